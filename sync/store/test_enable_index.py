"""Which mailboxes have a Test & Enable due (R-TE-1, R-TE-11), found in O(due) rather than by scanning Mailboxes.

Table ``TestEnableIndex``: a :class:`~sync.store.time_index.TimeIndex` (shards ``te00``..``te15``, RowKey
``<time>|<mailbox id>``), one row per scheduled test, at ``postpone_test_email_configuration_until`` (or at
:data:`UNPOSTPONED` when the schedule has no postpone time: due at once).

The mailbox row is the truth and the index a superset of it, so the timer never misses a due mailbox:

- every write of a mailbox goes through :class:`MailboxRepository`, which, when the mailbox is scheduled at a time
  its ``test_enable_row_key`` does not record yet, puts the new index row BEFORE the mailbox is written (a crash or
  a lost ETag race in between leaves an extra row, never a scheduled mailbox without one) and records the key on
  the mailbox; so an unchanged schedule costs no request at all;
- a row the mailbox no longer records (unscheduled, moved, claimed, deleted) is left where it is: the tick that
  reads it when it comes due sees that the mailbox's key differs and deletes it. The index never holds more rows
  than schedules were set, and each is read once, when due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from sync.model import Mailbox
from sync.store import schema
from sync.store.repository import Repository
from sync.store.time_index import TimeIndex, parse_time_key, time_key

SHARD_PREFIX = "te"
UNPOSTPONED = datetime(2000, 1, 1, tzinfo=UTC)  # scheduled with no postpone time: due at any tick
BACKFILLED = ("meta", "backfilled")  # marker row: the mailboxes scheduled before the index existed are in it


def scheduled_key(mailbox: Mailbox) -> str | None:
    """The index row the mailbox's schedule needs (None: no Test & Enable is scheduled)."""
    if not mailbox.test_email_configuration_scheduled:
        return None
    return time_key(mailbox.id, mailbox.postpone_test_email_configuration_until or UNPOSTPONED)


class TestEnableIndex:
    __test__ = False  # not a pytest class

    def __init__(self, table: TableClient) -> None:
        self.table = table
        self.index = TimeIndex(table, SHARD_PREFIX)
        self._backfilled = False

    def follow(self, mailbox: Mailbox) -> None:
        """Before the mailbox is written: put the index row its schedule needs, unless it is recorded already."""
        key = scheduled_key(mailbox)
        if key == mailbox.test_enable_row_key:
            return
        if key is not None:
            self.index.put_key(mailbox.id, key)
        mailbox.test_enable_row_key = key  # a row left behind is deleted by the tick when it comes due

    def due(self, now: datetime) -> Iterator[tuple[str, str]]:
        """(mailbox id, RowKey) of every row due by ``now``: one range query per shard, continuation followed."""
        for key in self.index.due_keys(now):
            mailbox_id, _ = parse_time_key(key)
            yield mailbox_id, key

    def remove(self, mailbox_id: str, key: str) -> None:
        self.index.remove(mailbox_id, key)

    def backfilled(self) -> bool:
        """Whether the mailboxes scheduled before this index existed were indexed (a point read, then remembered)."""
        if not self._backfilled:
            try:
                self.table.get_entity(*BACKFILLED)
            except ResourceNotFoundError:
                return False
            self._backfilled = True
        return True

    def mark_backfilled(self) -> None:
        self.table.upsert_entity({"PartitionKey": BACKFILLED[0], "RowKey": BACKFILLED[1]})
        self._backfilled = True


class MailboxRepository(Repository[Mailbox]):
    """The Mailboxes table; every write keeps the mailbox's scheduled Test & Enable in :class:`TestEnableIndex`."""

    def __init__(self, table: TableClient, test_enable_index: TestEnableIndex) -> None:
        super().__init__(table, Mailbox, schema.MAILBOX_KEYS)
        self.test_enable_index = test_enable_index

    def _touch(self, entity: Mailbox) -> None:  # type: ignore[override]  # runs before every insert, upsert, update
        super()._touch(entity)
        self.test_enable_index.follow(entity)
