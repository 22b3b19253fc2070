"""The outbox index: emails the outbox sweep must look at, and when — found in O(due), never by a table scan.

Table ``Outbox``, a :class:`~sync.store.time_index.TimeIndex` with shards ``o00``..``o15``: RowKey =
``<check time>|<email id>``. SendEmail adds a row when an email becomes Pending Send, due
when its queue message should long have been handled; the sweep reads, in each shard, the rows due by
now, and for each either removes it (the email is Sent, Failed, gone) or moves it to the next check
(delete + insert in one entity-group transaction). The hot path, the queue-triggered sender, never
touches this table: a healthy email costs the index one insert and, once, one batched delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from azure.data.tables import TableClient

from sync.store.time_index import TimeIndex, parse_time_key, time_key

SHARD_PREFIX = "o"


@dataclass(frozen=True)
class OutboxEntry:
    email_id: str
    check_on: datetime
    row_key: str


def row_key(email_id: str, check_on: datetime) -> str:
    return time_key(email_id, check_on)


def parse_row_key(key: str) -> OutboxEntry:
    email_id, check_on = parse_time_key(key)
    return OutboxEntry(email_id, check_on, key)


class OutboxIndex:
    def __init__(self, table: TableClient) -> None:
        self.index = TimeIndex(table, SHARD_PREFIX)

    def add(self, email_id: str, check_on: datetime) -> OutboxEntry:
        """Watch ``email_id`` from ``check_on`` on (idempotent)."""
        return parse_row_key(self.index.put(email_id, check_on))

    def due(self, now: datetime, *, page_size: int = 1000) -> Iterator[OutboxEntry]:
        """Every entry to check at or before ``now``."""
        return (parse_row_key(key) for key in self.index.due_keys(now, page_size=page_size))

    def move(self, entry: OutboxEntry, check_on: datetime) -> OutboxEntry:
        """Check the email again at ``check_on`` (one transaction)."""
        return parse_row_key(self.index.move(entry.email_id, entry.row_key, check_on))

    def remove(self, entries: Iterable[OutboxEntry]) -> int:
        """Stop watching these emails: batched per shard, up to 100 rows per transaction; returns how many."""
        return self.index.remove_many((entry.email_id, entry.row_key) for entry in entries)
