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
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from sync.store.repository import MAX_BATCH_OPERATIONS

SHARDS = 16
TIME_FORMAT = "%Y%m%d%H%M%S"


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

    def due_keys(self, now: datetime, *, page_size: int = 1000) -> Iterator[str]:
        """RowKeys due at or before ``now``, shard by shard, following continuation tokens."""
        upper = now.astimezone(UTC).strftime(TIME_FORMAT) + "|~"  # '~' sorts after any id
        for shard in range(SHARDS):
            rows = self.table.query_entities(
                "PartitionKey eq @pk and RowKey le @upper",
                parameters={"pk": f"{self.prefix}{shard:02d}", "upper": upper},
                results_per_page=page_size,
                select=["RowKey"],
            )
            for row in rows:
                yield str(row["RowKey"])

    def put(self, item_id: str, when: datetime) -> str:
        """Add (or re-create) the item's row at ``when`` (idempotent); returns its RowKey."""
        return self.put_key(item_id, time_key(item_id, when))

    def put_key(self, item_id: str, key: str) -> str:
        self.table.upsert_entity({"PartitionKey": self.shard(item_id), "RowKey": key}, mode=UpdateMode.REPLACE)
        return key

    def move(self, item_id: str, old_key: str | None, when: datetime) -> str:
        """Move the item's row to ``when`` in one transaction; returns the new RowKey."""
        new_key = time_key(item_id, when)
        if old_key == new_key:
            return new_key
        if old_key is None:
            return self.put_key(item_id, new_key)
        pk = self.shard(item_id)
        try:
            self.table.submit_transaction(
                [
                    ("delete", {"PartitionKey": pk, "RowKey": old_key}),
                    ("upsert", {"PartitionKey": pk, "RowKey": new_key}),
                ]
            )
        except TableTransactionError:  # the old row was already gone (moved or removed): write the new one
            return self.put_key(item_id, new_key)
        return new_key

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
