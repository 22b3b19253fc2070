"""Rows that expire (console sessions, sign-in links, pending consents) removed without a scan and without a timer.

A row whose secret was never presented again (a browser closed, a consent abandoned at the provider) is never
read again, so expiring it on read alone would keep it for ever. Beside such rows, in their own table, an
expiry index (:class:`~sync.store.time_index.TimeIndex` keys ``<time>|<partition>|<row key>``) records when each
one expires; writing a new expiring row first writes its index row, then removes up to :data:`SWEEP_LIMIT` rows
that expired, oldest first: one range query and their deletes. The rows are as few as sign-ins and consents, so
the index is ONE partition (``expiry``) and every write sweeps all of it; expired rows never outnumber the
writes that sweep them by more than the limit, so the table stays at about the live rows.

The index time is the expiry rounded UP to the second (the keys' resolution), so no row is removed before it
expired. An expiry never moves: the rows' owners do not extend it (a longer session is a new session).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient

from sync.store.time_index import TimeIndex, time_key

log = logging.getLogger(__name__)

PARTITION = "expiry"  # no owner's partition has this name: sessions use session/link/signin, consents a digest
SWEEP_LIMIT = 20  # expired rows removed per write, at most: a burst of expiries is worked off over later writes
TARGET_PARTITION, TARGET_ROW = "row_partition", "row_key"


class _OnePartition(TimeIndex):
    """A time index kept in a single partition: the rows it indexes are few."""

    def shard(self, item_id: str) -> str:
        return self.prefix

    def shards(self) -> list[str]:
        return [self.prefix]


def rounded_up(when: datetime) -> datetime:
    """``when`` at the next whole second (unchanged when it is one)."""
    whole = when.replace(microsecond=0)
    return whole if whole == when else whole + timedelta(seconds=1)


class ExpiringRows:
    """The expiry index of one table's expiring rows."""

    def __init__(self, table: TableClient) -> None:
        self.table = table
        self.index = _OnePartition(table, PARTITION)

    def note(self, partition: str, row_key: str, expires_on: datetime, now: datetime) -> None:
        """Before the row is written: record when it expires (so no expiring row is ever without its index row),
        then sweep what expired by ``now``. A failed sweep is logged, never fails the write: the next one
        sweeps again."""
        item = f"{partition}|{row_key}"
        self.index.put_key(
            item, time_key(item, rounded_up(expires_on)), {TARGET_PARTITION: partition, TARGET_ROW: row_key}
        )
        try:
            self.sweep(now)
        except AzureError as exc:
            log.warning("expired rows of %s not removed this time: %s", self.table.table_name, type(exc).__name__)

    def sweep(self, now: datetime, limit: int = SWEEP_LIMIT) -> int:
        """Remove up to ``limit`` rows expired by ``now`` and their index rows; returns how many."""
        expired = list(islice(self._expired(now, limit), limit))
        for row in expired:
            with contextlib.suppress(ResourceNotFoundError):  # redeemed or signed out before it expired
                self.table.delete_entity(str(row[TARGET_PARTITION]), str(row[TARGET_ROW]))
        self.index.remove_many((f"{row[TARGET_PARTITION]}|{row[TARGET_ROW]}", str(row["RowKey"])) for row in expired)
        return len(expired)

    def _expired(self, now: datetime, limit: int) -> Iterator[dict[str, object]]:
        return self.index.due_rows(PARTITION, now, page_size=limit)
