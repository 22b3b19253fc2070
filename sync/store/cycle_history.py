"""A mailbox's recent cycles: a fixed ring of rows per mailbox and workload, overwritten in turn.

Table ``CycleHistory``: PartitionKey = mailbox id, RowKey = ``<workload>|<slot>`` with slot = the cycle's
sequence number modulo :data:`RING_SIZE`, plus one ``<workload>|head`` row holding the next sequence number.
Recording a cycle is one point read of the head and one entity-group transaction (the slot upserted, the head
moved on, ETag-checked): two requests, whatever the history's age. Nothing is ever deleted and a mailbox never
holds more than ``2 * (RING_SIZE + 1)`` rows, so there is no trimming job and no growth. Reading the history is
one partition query (at most 102 rows, one page).

Why a ring rather than reverse-time keys: those cost the same insert but need a query and deletes to trim, or
grow without bound. The sequence number also orders the rows exactly, even when two cycles start in the same
millisecond. The incoming and ACT workloads have their own head, so their cycles (under separate leases)
never contend for it; a contended head (a duplicate delivery racing the lease) is retried.
"""

from __future__ import annotations

import json
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from sync.errors import ConcurrencyConflict
from sync.operations.cycles import CycleEntry, Workload

RING_SIZE = 50  # cycles kept per mailbox and workload: at 1-12 minutes per cycle, 1 to 10 hours of history
HEAD = "head"
ATTEMPTS = 5


def slot_key(workload: str, sequence: int) -> str:
    return f"{workload}|{sequence % RING_SIZE:02d}"


def head_key(workload: str) -> str:
    return f"{workload}|{HEAD}"


def _row(entry: CycleEntry) -> dict[str, Any]:
    row = entry.model_dump(mode="json", exclude={"mailbox_id", "reasons", "started_on"}, exclude_none=True)
    row.update(
        PartitionKey=entry.mailbox_id,
        RowKey=slot_key(entry.workload, entry.sequence),
        started_on=entry.started_on,
        reasons=json.dumps(entry.reasons, separators=(",", ":")),
    )
    return row


def _entry(row: dict[str, Any]) -> CycleEntry:
    fields = {k: v for k, v in row.items() if k not in ("PartitionKey", "RowKey", "Timestamp", "etag", "reasons")}
    return CycleEntry(mailbox_id=row["PartitionKey"], reasons=json.loads(row.get("reasons") or "{}"), **fields)


class CycleHistory:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def record(self, entry: CycleEntry) -> CycleEntry:
        """Append ``entry`` as its mailbox's newest cycle (overwriting the oldest once the ring is full)."""
        for _ in range(ATTEMPTS):
            try:
                head = self.table.get_entity(entry.mailbox_id, head_key(entry.workload))
            except ResourceNotFoundError:
                head = None
            sequence = int(head["next"]) if head else 0
            numbered = entry.model_copy(update={"sequence": sequence})
            next_head = {"PartitionKey": entry.mailbox_id, "RowKey": head_key(entry.workload), "next": sequence + 1}
            move_head: tuple[Any, ...] = ("create", next_head)
            if head is not None:
                guard = {"etag": head.metadata["etag"], "match_condition": MatchConditions.IfNotModified}
                move_head = ("update", next_head, {"mode": UpdateMode.REPLACE, **guard})
            try:
                self.table.submit_transaction([("upsert", _row(numbered), {"mode": UpdateMode.REPLACE}), move_head])
            except TableTransactionError:
                continue  # another cycle of this workload moved the head first: take the next number
            return numbered
        raise ConcurrencyConflict(f"mailbox {entry.mailbox_id}: the {entry.workload} cycle history stayed contended")

    def recent(self, mailbox_id: str, workload: Workload | None = None) -> list[CycleEntry]:
        """The kept cycles, newest first (one partition query)."""
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": mailbox_id}, results_per_page=1000)
        entries = [
            _entry(dict(row))
            for row in rows
            if not str(row["RowKey"]).endswith(f"|{HEAD}")
            and (workload is None or str(row["RowKey"]).startswith(f"{workload}|"))
        ]
        return sorted(entries, key=lambda e: (e.started_on, e.sequence), reverse=True)
