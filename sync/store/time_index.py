"""A sharded, time-ordered index: which items are due by now, found in O(due), never by a table scan.

PartitionKey = a shard (``<prefix>00``..``<prefix>15``, from the item id); RowKey =
``<time yyyymmddHHMMSS>|<item id>``. Reading what is due is one range query per shard (RowKey up to now),
so its cost grows with the due items plus one request per shard, not with all items. Moving an item to
another time deletes its row and inserts the new one in ONE entity-group transaction (same shard), so a
move is one storage transaction and never loses the row. The scheduler's due index and the outbox
sweep's index are both this structure.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from sync.store.repository import MAX_BATCH_OPERATIONS

SHARDS = 16
TIME_FORMAT = "%Y%m%d%H%M%S"
MOVES_PER_TRANSACTION = MAX_BATCH_OPERATIONS // 2  # a move is a delete and an insert


@dataclass(frozen=True)
class Move:
    """Replace the item's row ``old_key`` (None: it has none) by ``new_key`` (None: remove it) with ``properties``."""

    item_id: str
    old_key: str | None
    new_key: str | None
    properties: Mapping[str, Any] = field(default_factory=dict)


def time_key(item_id: str, when: datetime) -> str:
    return f"{when.astimezone(UTC).strftime(TIME_FORMAT)}|{item_id}"


def parse_time_key(key: str) -> tuple[str, datetime]:
    """(item id, time) of a RowKey."""
    stamp, item_id = key.split("|", 1)
    return item_id, datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=UTC)


class TimeIndex:
    def __init__(self, table: TableClient, shard_prefix: str) -> None:
        self.table = table
        self.prefix = shard_prefix

    def shard(self, item_id: str) -> str:
        return f"{self.prefix}{int(hashlib.sha256(item_id.encode()).hexdigest()[:4], 16) % SHARDS:02d}"

    def shards(self) -> list[str]:
        return [f"{self.prefix}{shard:02d}" for shard in range(SHARDS)]

    def due_keys(self, now: datetime, *, page_size: int = 1000) -> Iterator[str]:
        """RowKeys due at or before ``now``, shard by shard, following continuation tokens."""
        for shard in self.shards():
            for row in self.due_rows(shard, now, page_size=page_size, select=["RowKey"]):
                yield str(row["RowKey"])

    def due_rows(
        self, shard: str, now: datetime, *, page_size: int = 1000, select: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The rows of one shard due at or before ``now`` (with their properties), following continuation tokens."""
        upper = now.astimezone(UTC).strftime(TIME_FORMAT) + "|~"  # '~' sorts after any id
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey le @upper",
            parameters={"pk": shard, "upper": upper},
            results_per_page=page_size,
            select=select,
        )
        for row in rows:
            yield dict(row)

    def due_page(
        self, shard: str, now: datetime, *, page_size: int, continuation: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the shard's rows due by ``now`` and the token of the next page (None: the last one).

        A page may come back empty with a token: the caller must follow it all the same.
        """
        upper = now.astimezone(UTC).strftime(TIME_FORMAT) + "|~"
        pager = self.table.query_entities(
            "PartitionKey eq @pk and RowKey le @upper",
            parameters={"pk": shard, "upper": upper},
            results_per_page=page_size,
        ).by_page(continuation_token=continuation)  # type: ignore[arg-type]  # a dict, typed as str
        rows = [dict(row) for row in next(pager, [])]
        token = pager.continuation_token  # type: ignore[attr-defined]
        return rows, dict(token) if token else None

    def put(self, item_id: str, when: datetime) -> str:
        """Add (or re-create) the item's row at ``when`` (idempotent); returns its RowKey."""
        return self.put_key(item_id, time_key(item_id, when))

    def put_key(self, item_id: str, key: str, properties: Mapping[str, Any] | None = None) -> str:
        row = {**(properties or {}), "PartitionKey": self.shard(item_id), "RowKey": key}
        self.table.upsert_entity(row, mode=UpdateMode.REPLACE)
        return key

    def move(
        self, item_id: str, old_key: str | None, when: datetime, properties: Mapping[str, Any] | None = None
    ) -> str:
        """Move the item's row to ``when`` in one transaction; returns the new RowKey."""
        new_key = time_key(item_id, when)
        self.apply(Move(item_id, old_key, new_key, properties or {}))
        return new_key

    def apply(self, move: Move) -> None:
        """One move in one transaction; a row that is already gone is no error (someone moved it first)."""
        pk = self.shard(move.item_id)
        if move.new_key is None:
            self.remove(move.item_id, move.old_key)
        elif move.old_key == move.new_key and not move.properties:
            return  # already there
        elif move.old_key is None or move.old_key == move.new_key:
            self.put_key(move.item_id, move.new_key, move.properties)
        else:
            try:
                self.table.submit_transaction(_operations(pk, move))
            except TableTransactionError:  # the old row was already gone (moved or removed): write the new one
                self.put_key(move.item_id, move.new_key, move.properties)

    def apply_many(self, moves: Iterable[Move]) -> int:
        """Apply moves batched per shard, up to 50 (100 operations) per entity-group transaction.

        A transaction is all-or-nothing: when one of its rows was already gone (a concurrent claimer or worker
        moved it), none of its moves is applied, and each is then applied on its own, which tolerates the gone
        row. Returns the number of requests sent.
        """
        by_shard: dict[str, list[Move]] = defaultdict(list)
        for move in moves:
            by_shard[self.shard(move.item_id)].append(move)
        requests = 0
        for shard, shard_moves in by_shard.items():
            for start in range(0, len(shard_moves), MOVES_PER_TRANSACTION):
                chunk = shard_moves[start : start + MOVES_PER_TRANSACTION]
                operations = [op for move in chunk for op in _operations(shard, move)]
                if not operations:
                    continue
                requests += 1
                try:
                    self.table.submit_transaction(operations)
                except TableTransactionError:
                    for move in chunk:
                        self.apply(move)
                        requests += 1
        return requests

    def remove(self, item_id: str, key: str | None) -> None:
        if key is not None:
            with contextlib.suppress(ResourceNotFoundError):
                self.table.delete_entity(self.shard(item_id), key)

    def remove_many(self, rows: Iterable[tuple[str, str]]) -> int:
        """Remove (item id, RowKey) rows, batched per shard up to 100 per transaction; returns how many."""
        by_shard: dict[str, list[str]] = defaultdict(list)
        for item_id, key in rows:
            by_shard[self.shard(item_id)].append(key)
        removed = 0
        for shard, keys in by_shard.items():
            for start in range(0, len(keys), MAX_BATCH_OPERATIONS):
                chunk = keys[start : start + MAX_BATCH_OPERATIONS]
                try:
                    self.table.submit_transaction([("delete", {"PartitionKey": shard, "RowKey": k}) for k in chunk])
                except TableTransactionError:  # one row was gone already: delete the rest one by one
                    for key in chunk:
                        with contextlib.suppress(ResourceNotFoundError):
                            self.table.delete_entity(shard, key)
                removed += len(chunk)
        return removed

    def exists(self, item_id: str, key: str) -> bool:
        try:
            self.table.get_entity(self.shard(item_id), key)
        except ResourceNotFoundError:
            return False
        return True


def _operations(pk: str, move: Move) -> list[Any]:
    """The transaction operations of one move: delete the old row (if any), write the new one (if any)."""
    operations: list[Any] = []
    if move.old_key is not None and move.old_key != move.new_key:
        operations.append(("delete", {"PartitionKey": pk, "RowKey": move.old_key}))
    if move.new_key is not None:
        row = {**move.properties, "PartitionKey": pk, "RowKey": move.new_key}
        operations.append(("upsert", row, {"mode": UpdateMode.REPLACE}))
    return operations
