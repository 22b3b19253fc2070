"""The due-time index: which mailboxes are due, found in O(due) rather than O(all mailboxes).

Table ``DueIndex``, a :class:`~sync.store.time_index.TimeIndex` with shards ``s00``..``s15``: RowKey =
``<due time>|<mailbox id>``. A tick reads the rows due by now; moving a mailbox to a new due time is one
entity-group transaction. The mailbox row keeps the RowKey of its current due row (``due_row_key``), so
moves need no search.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from azure.data.tables import TableClient

from sync.store.time_index import SHARDS, TimeIndex, parse_time_key, time_key

SHARD_PREFIX = "s"


@dataclass(frozen=True)
class DueEntry:
    mailbox_id: str
    due_on: datetime
    row_key: str


def row_key(mailbox_id: str, due_on: datetime) -> str:
    return time_key(mailbox_id, due_on)


def parse_row_key(key: str) -> DueEntry:
    mailbox_id, due_on = parse_time_key(key)
    return DueEntry(mailbox_id, due_on, key)


class DueIndex:
    def __init__(self, table: TableClient) -> None:
        self.index = TimeIndex(table, SHARD_PREFIX)
        self.table = table

    def shard(self, mailbox_id: str) -> str:
        return self.index.shard(mailbox_id)

    def due(self, now: datetime, *, page_size: int = 1000) -> Iterator[DueEntry]:
        """Every entry due at or before ``now``."""
        return (parse_row_key(key) for key in self.index.due_keys(now, page_size=page_size))

    def put(self, mailbox_id: str, due_on: datetime) -> str:
        return self.index.put(mailbox_id, due_on)

    def move(self, mailbox_id: str, old_key: str | None, due_on: datetime) -> str:
        """Move the mailbox's entry to ``due_on`` in one transaction; returns the new RowKey."""
        return self.index.move(mailbox_id, old_key, due_on)

    def restore(self, mailbox_id: str, key: str) -> None:
        """Re-create a row the mailbox points at (after a crash between a mailbox write and a move)."""
        self.index.put_key(mailbox_id, key)

    def remove(self, mailbox_id: str, key: str | None) -> None:
        self.index.remove(mailbox_id, key)

    def exists(self, mailbox_id: str, key: str) -> bool:
        return self.index.exists(mailbox_id, key)


__all__ = ["SHARDS", "DueEntry", "DueIndex", "parse_row_key", "row_key"]
