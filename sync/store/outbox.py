"""The outbox index: emails the outbox sweep must look at, and when — found in O(due), never by a table scan.

Table ``Outbox``: PartitionKey = a shard (``o00``..``o15``, from the email id), RowKey =
``<check time yyyymmddHHMMSS>|<email id>``. SendEmail adds a row when an email becomes Pending Send, due
when its queue message should long have been handled; the sweep reads, in each shard, the rows due by
now, and for each either removes it (the email is Sent, Failed, gone) or moves it to the next check
(delete + insert in one entity-group transaction). The hot path, the queue-triggered sender, never
touches this table: a healthy email costs the index one insert and, once, one batched delete.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

SHARDS = 16
MAX_BATCH = 100  # entity-group transactions: at most 100 operations
_TIME_FORMAT = "%Y%m%d%H%M%S"


@dataclass(frozen=True)
class OutboxEntry:
    email_id: str
    check_on: datetime
    row_key: str

    @property
    def shard(self) -> str:
        return shard_of(self.email_id)


def shard_of(email_id: str) -> str:
    return f"o{int(hashlib.sha256(email_id.encode()).hexdigest()[:4], 16) % SHARDS:02d}"


def row_key(email_id: str, check_on: datetime) -> str:
    return f"{check_on.astimezone(UTC).strftime(_TIME_FORMAT)}|{email_id}"


def parse_row_key(key: str) -> OutboxEntry:
    stamp, email_id = key.split("|", 1)
    return OutboxEntry(email_id, datetime.strptime(stamp, _TIME_FORMAT).replace(tzinfo=UTC), key)


class OutboxIndex:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def add(self, email_id: str, check_on: datetime) -> OutboxEntry:
        """Watch ``email_id`` from ``check_on`` on (idempotent)."""
        key = row_key(email_id, check_on)
        self.table.upsert_entity({"PartitionKey": shard_of(email_id), "RowKey": key}, mode=UpdateMode.REPLACE)
        return parse_row_key(key)

    def due(self, now: datetime, *, page_size: int = 1000) -> Iterator[OutboxEntry]:
        """Every entry to check at or before ``now``, shard by shard, following continuation tokens."""
        upper = now.astimezone(UTC).strftime(_TIME_FORMAT) + "|~"  # '~' sorts after any email id
        for shard in range(SHARDS):
            rows = self.table.query_entities(
                "PartitionKey eq @pk and RowKey le @upper",
                parameters={"pk": f"o{shard:02d}", "upper": upper},
                results_per_page=page_size,
                select=["RowKey"],
            )
            for row in rows:
                yield parse_row_key(row["RowKey"])

    def move(self, entry: OutboxEntry, check_on: datetime) -> OutboxEntry:
        """Check the email again at ``check_on`` (one transaction)."""
        key = row_key(entry.email_id, check_on)
        if key == entry.row_key:
            return entry
        try:
            self.table.submit_transaction(
                [
                    ("delete", {"PartitionKey": entry.shard, "RowKey": entry.row_key}),
                    ("upsert", {"PartitionKey": entry.shard, "RowKey": key}),
                ]
            )
        except TableTransactionError:  # the old row is gone already (another sweep): just write the new one
            return self.add(entry.email_id, check_on)
        return parse_row_key(key)

    def remove(self, entries: Iterable[OutboxEntry]) -> int:
        """Stop watching these emails: batched per shard, up to 100 rows per transaction; returns how many."""
        by_shard: dict[str, list[OutboxEntry]] = defaultdict(list)
        for entry in entries:
            by_shard[entry.shard].append(entry)
        removed = 0
        for shard, rows in by_shard.items():
            for start in range(0, len(rows), MAX_BATCH):
                chunk = rows[start : start + MAX_BATCH]
                try:
                    self.table.submit_transaction(
                        [("delete", {"PartitionKey": shard, "RowKey": e.row_key}) for e in chunk]
                    )
                except TableTransactionError:  # one row was gone already: delete the rest one by one
                    for entry in chunk:
                        with contextlib.suppress(ResourceNotFoundError):
                            self.table.delete_entity(shard, entry.row_key)
                removed += len(chunk)
        return removed
