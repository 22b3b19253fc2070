"""The due-time index: which mailboxes are due, found in O(due) rather than O(all mailboxes).

Table ``DueIndex``: PartitionKey = a shard (``s00``..``s15``, from the mailbox id), RowKey =
``<due time yyyymmddHHMMSS>|<mailbox id>``. A tick reads, in each shard, the rows whose RowKey sorts
at or before now: cost grows with the due mailboxes (plus one request per shard), not with all of them.
Moving a mailbox to a new due time deletes its old row and inserts the new one in ONE entity-group
transaction (same shard partition), so a move is one storage transaction and never loses the row.
The mailbox row keeps the RowKey of its current due row (``due_row_key``), so moves need no search.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

SHARDS = 16
_TIME_FORMAT = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class DueEntry:
    mailbox_id: str
    due_on: datetime
    row_key: str


def shard_of(mailbox_id: str) -> str:
    return f"s{int(hashlib.sha256(mailbox_id.encode()).hexdigest()[:4], 16) % SHARDS:02d}"


def row_key(mailbox_id: str, due_on: datetime) -> str:
    return f"{due_on.astimezone(UTC).strftime(_TIME_FORMAT)}|{mailbox_id}"


def parse_row_key(key: str) -> DueEntry:
    stamp, mailbox_id = key.split("|", 1)
    return DueEntry(mailbox_id, datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC), key)


class DueIndex:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def due(self, now: datetime, *, page_size: int = 1000) -> Iterator[DueEntry]:
        """Every entry due at or before ``now``, shard by shard, following continuation tokens."""
        upper = now.astimezone(UTC).strftime(_TIME_FORMAT) + "|~"  # '~' sorts after any mailbox id
        for shard in range(SHARDS):
            rows = self.table.query_entities(
                "PartitionKey eq @pk and RowKey le @upper",
                parameters={"pk": f"s{shard:02d}", "upper": upper},
                results_per_page=page_size,
                select=["RowKey"],
            )
            for row in rows:
                yield parse_row_key(row["RowKey"])

    def put(self, mailbox_id: str, due_on: datetime) -> str:
        """Add an entry (idempotent); returns its RowKey for the mailbox row."""
        key = row_key(mailbox_id, due_on)
        self.table.upsert_entity({"PartitionKey": shard_of(mailbox_id), "RowKey": key}, mode=UpdateMode.REPLACE)
        return key

    def move(self, mailbox_id: str, old_key: str | None, due_on: datetime) -> str:
        """Move the mailbox's entry to ``due_on`` in one transaction; returns the new RowKey."""
        new_key = row_key(mailbox_id, due_on)
        if old_key == new_key:
            return new_key
        if old_key is None:
            return self.put(mailbox_id, due_on)
        pk = shard_of(mailbox_id)
        try:
            self.table.submit_transaction(
                [
                    ("delete", {"PartitionKey": pk, "RowKey": old_key}),
                    ("upsert", {"PartitionKey": pk, "RowKey": new_key}),
                ]
            )
        except TableTransactionError:
            # The old row was already gone (moved by someone else or removed): just write the new one.
            return self.put(mailbox_id, due_on)
        return new_key

    def restore(self, mailbox_id: str, key: str) -> None:
        """Re-create a row the mailbox points at (after a crash between a mailbox write and a move)."""
        self.table.upsert_entity({"PartitionKey": shard_of(mailbox_id), "RowKey": key}, mode=UpdateMode.REPLACE)

    def remove(self, mailbox_id: str, key: str | None) -> None:
        if key is None:
            return
        with contextlib.suppress(ResourceNotFoundError):
            self.table.delete_entity(shard_of(mailbox_id), key)

    def exists(self, mailbox_id: str, key: str) -> bool:
        try:
            self.table.get_entity(shard_of(mailbox_id), key)
        except ResourceNotFoundError:
            return False
        return True
