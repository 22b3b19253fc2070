"""Totals of what the workers did per 10 minutes, so the organization summary never scans emails or failures.

Table ``SyncTotals``: PartitionKey = ``t<yyyymmddHH><tens of minutes>`` (UTC), RowKey = a shard ``00``..``15`` chosen by
the mailbox id, so concurrent workers of different mailboxes rarely touch the same row. Each row holds
counters: ``cycles``, ``cycles_failed``, ``tracked``, ``not_tracked``, ``failed`` and one ``r_<Reason>`` per
reason an email was not tracked; ``sent`` and ``send_failed`` are added by the outbox sweep, once per run and
10 minutes, for the outgoing emails whose outcome it confirms (``sync/outgoing/sweep.py``). A cycle that did
something adds to its row with a read and an ETag-checked merge (two requests; retried on a conflict); an idle
cycle adds nothing and costs nothing.

Reading the last day is one range query over 145 partitions of at most 16 rows (at most 2,320 rows: three
pages of 1,000); the last hour is read from the same rows.
The same table keeps the summary's mailbox-state snapshot (PartitionKey ``snapshot``), see
``sync/operations/summary.py``, and, per hour, the number of mailboxes failing at that hour's last snapshot
(PartitionKey ``failing``, RowKey ``h<yyyymmddHH>``: one upsert per snapshot, 24 rows read for a day).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import ConcurrencyConflict

SHARDS = 16  # rows per bucket: enough that a few hundred concurrent workers seldom meet on one row
ATTEMPTS = 8
COUNTERS = ("cycles", "cycles_failed", "tracked", "not_tracked", "failed", "sent", "send_failed")
REASON_PREFIX = "r_"
SNAPSHOT_PARTITION = "snapshot"
SNAPSHOT_ROW = "mailbox-states"
FAILING_PARTITION = "failing"  # one row per hour: how many mailboxes were failing at the hour's last snapshot


BUCKET = timedelta(minutes=10)


def bucket_key(when: datetime) -> str:
    return f"t{when:%Y%m%d%H}{when.minute // 10}"


def bucket_start(when: datetime) -> datetime:
    return when.replace(minute=when.minute - when.minute % 10, second=0, microsecond=0)


def shard_of(mailbox_id: str) -> str:
    return f"{int(hashlib.sha256(mailbox_id.encode()).hexdigest()[:8], 16) % SHARDS:02d}"


@dataclass
class Totals:
    """Counts over a span of hours."""

    cycles: int = 0
    cycles_failed: int = 0
    tracked: int = 0
    not_tracked: int = 0
    failed: int = 0
    sent: int = 0  # outgoing emails the outbox sweep found Sent, in the 10 minutes they were sent
    send_failed: int = 0  # ... and Failed
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, other: Totals) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reasons.update(other.reasons)

    @property
    def empty(self) -> bool:
        return not any(getattr(self, name) for name in COUNTERS)


def _totals(row: Mapping[str, Any]) -> Totals:
    found = Totals()
    for name in COUNTERS:
        setattr(found, name, int(row.get(name) or 0))
    found.reasons.update({k[len(REASON_PREFIX) :]: int(v) for k, v in row.items() if k.startswith(REASON_PREFIX) and v})
    return found


class SyncTotals:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def add(self, mailbox_id: str, when: datetime, delta: Totals) -> None:
        """Add ``delta`` to the 10 minutes of ``when`` (ETag-checked read-modify-write of one shard row)."""
        if delta.empty:
            return
        keys = {"PartitionKey": bucket_key(when), "RowKey": shard_of(mailbox_id)}
        for _ in range(ATTEMPTS):
            try:
                row = self.table.get_entity(keys["PartitionKey"], keys["RowKey"])
            except ResourceNotFoundError:
                row = None
            current = _totals(row) if row is not None else Totals()
            current.add(delta)
            entity: dict[str, Any] = {**keys, **{name: getattr(current, name) for name in COUNTERS}}
            entity.update({f"{REASON_PREFIX}{k}": v for k, v in current.reasons.items() if k.isidentifier()})
            try:
                if row is None:
                    self.table.create_entity(entity)
                else:
                    self.table.update_entity(
                        entity, mode=UpdateMode.MERGE, etag=row.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )  # fmt: skip
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another worker added first: read again
            return
        raise ConcurrencyConflict(f"the totals of {keys['PartitionKey']}/{keys['RowKey']} stayed contended")

    def between(self, start: datetime, end: datetime) -> dict[str, Totals]:
        """Totals per bucket key, from the bucket of ``start`` to the bucket of ``end`` (one range query)."""
        rows = self.table.query_entities(
            "PartitionKey ge @lo and PartitionKey le @hi",
            parameters={"lo": bucket_key(start), "hi": bucket_key(end)},
            results_per_page=1000,
        )
        hours: dict[str, Totals] = {}
        for row in rows:
            hours.setdefault(str(row["PartitionKey"]), Totals()).add(_totals(row))
        return hours

    # --- failing mailboxes per hour, sampled by the summary's timer -------------------------------------
    def save_failing(self, when: datetime, failing: int, mailboxes: int) -> None:
        """The hour's latest sample (last writer wins: the timer is a singleton)."""
        self.table.upsert_entity(
            {"PartitionKey": FAILING_PARTITION, "RowKey": f"h{when:%Y%m%d%H}", "failing": failing,
             "mailboxes": mailboxes},
            mode=UpdateMode.REPLACE,
        )  # fmt: skip

    def failing_between(self, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        """``yyyymmddHH`` -> (failing, mailboxes) for the hours sampled from ``start`` to ``end`` (one query)."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi",
            parameters={"pk": FAILING_PARTITION, "lo": f"h{start:%Y%m%d%H}", "hi": f"h{end:%Y%m%d%H}"},
        )
        return {str(r["RowKey"])[1:]: (int(r.get("failing") or 0), int(r.get("mailboxes") or 0)) for r in rows}

    # --- the summary's snapshot of mailbox states ------------------------------------------------------
    def save_snapshot(self, document: Mapping[str, Any]) -> None:
        text = json.dumps(document, separators=(",", ":"), default=str)
        self.table.upsert_entity(
            {"PartitionKey": SNAPSHOT_PARTITION, "RowKey": SNAPSHOT_ROW, "document": text}, mode=UpdateMode.REPLACE
        )

    def snapshot(self) -> dict[str, Any] | None:
        try:
            row = self.table.get_entity(SNAPSHOT_PARTITION, SNAPSHOT_ROW)
        except ResourceNotFoundError:
            return None
        found: dict[str, Any] = json.loads(row["document"])
        return found
