"""The due-time index: which mailboxes are due, found in O(due) rather than O(all mailboxes).

Table ``DueIndex``, a :class:`~sync.store.time_index.TimeIndex` with shards ``s00``..``s15``: RowKey =
``<due time>|<mailbox id>``. A claimer reads the rows of one shard due by now; moving a mailbox to a new
due time is one entity-group transaction, and a claimer moves up to 50 mailboxes of a shard in one. The
mailbox row keeps the RowKey of its current due row (``due_row_key``), so moves need no search. A row
may carry a claim ticket (:mod:`sync.scheduling.ticket`) in its ``t_*`` properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.data.tables import TableClient

from sync.store.time_index import SHARDS, Move, TimeIndex, parse_time_key, time_key

SHARD_PREFIX = "s"


@dataclass(frozen=True)
class DueEntry:
    mailbox_id: str
    due_on: datetime
    row_key: str
    properties: Mapping[str, Any] | None = None  # the row's other properties (a claim ticket), when read


def row_key(mailbox_id: str, due_on: datetime) -> str:
    return time_key(mailbox_id, due_on)


def parse_row_key(key: str, properties: Mapping[str, Any] | None = None) -> DueEntry:
    mailbox_id, due_on = parse_time_key(key)
    return DueEntry(mailbox_id, due_on, key, properties)


class DueIndex:
    def __init__(self, table: TableClient) -> None:
        self.index = TimeIndex(table, SHARD_PREFIX)
        self.table = table

    def shard(self, mailbox_id: str) -> str:
        return self.index.shard(mailbox_id)

    def shards(self) -> list[str]:
        return self.index.shards()

    def due(self, now: datetime, *, page_size: int = 1000) -> Iterator[DueEntry]:
        """Every entry due at or before ``now`` (keys only)."""
        return (parse_row_key(key) for key in self.index.due_keys(now, page_size=page_size))

    def due_in(self, shard: str, now: datetime, *, page_size: int = 1000) -> Iterator[DueEntry]:
        """The entries of one shard due at or before ``now``, with the properties of their rows."""
        for row in self.index.due_rows(shard, now, page_size=page_size):
            yield _entry(row)

    def due_page(
        self, shard: str, now: datetime, *, page_size: int, continuation: dict[str, Any] | None = None
    ) -> tuple[list[DueEntry], dict[str, Any] | None]:
        """One page of :meth:`due_in` and the continuation of the rest (None when this was the last page)."""
        rows, token = self.index.due_page(shard, now, page_size=page_size, continuation=continuation)
        return [_entry(row) for row in rows], token

    def put(self, mailbox_id: str, due_on: datetime) -> str:
        return self.index.put(mailbox_id, due_on)

    def move(
        self, mailbox_id: str, old_key: str | None, due_on: datetime, properties: Mapping[str, Any] | None = None
    ) -> str:
        """Move the mailbox's entry to ``due_on`` in one transaction; returns the new RowKey."""
        return self.index.move(mailbox_id, old_key, due_on, properties)

    def apply_many(self, moves: Iterable[Move]) -> int:
        """Moves batched per shard, 50 per transaction; returns the requests sent (see TimeIndex.apply_many)."""
        return self.index.apply_many(moves)

    def restore(self, mailbox_id: str, key: str) -> None:
        """Re-create a row the mailbox points at (after a crash between a mailbox write and a move)."""
        self.index.put_key(mailbox_id, key)

    def remove(self, mailbox_id: str, key: str | None) -> None:
        self.index.remove(mailbox_id, key)

    def exists(self, mailbox_id: str, key: str) -> bool:
        return self.index.exists(mailbox_id, key)


def _entry(row: Mapping[str, Any]) -> DueEntry:
    properties = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey")}
    return parse_row_key(str(row["RowKey"]), properties)


__all__ = ["SHARDS", "DueEntry", "DueIndex", "Move", "parse_row_key", "row_key"]
