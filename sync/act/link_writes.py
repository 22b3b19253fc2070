"""Link rows of one mailbox written together: one entity-group transaction per 100 rows (spec §1.3 keys).

A cycle that pushes many records writes each link twice (before the create, then with the item) and the
item's lookup row. All of them live in the mailbox's partition of one table, so they go in transactions
of up to :data:`MAX_OPERATIONS`, all-or-nothing: a link the CRM noted a change on since it was read fails
its whole transaction with :class:`ConcurrencyConflict`, and the caller writes that chunk one row at a time
(each with its own compare-and-swap), as it would without batching.

Rows are replaced, never merged: a property the model cleared (``create_started_on``, ``last_sync_error``)
must leave the stored row, which a merge of the encoded entity (it omits None) would not do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from sync.errors import ConcurrencyConflict, StoreError
from sync.model import ExchangeItemLookup, ExchangeSyncIdMapping
from sync.model.base import Entity
from sync.model.fields import utcnow
from sync.store.act_links import LINK_KEYS, LOOKUP_KEYS
from sync.store.codec import encode

MAX_OPERATIONS = 100  # Table storage's limit per entity-group transaction
CONFLICT_CODES = frozenset({"UpdateConditionNotSatisfied", "ConditionNotMet", "ResourceNotFound"})

Row = ExchangeSyncIdMapping | ExchangeItemLookup


def write_rows(table: TableClient, rows: Sequence[Row]) -> None:
    """Links replaced if unchanged since read (their ETag), lookups upserted; ``rows`` of one partition, in
    transactions of at most :data:`MAX_OPERATIONS`. Each written row gets its new ETag."""
    for start in range(0, len(rows), MAX_OPERATIONS):
        chunk = rows[start : start + MAX_OPERATIONS]
        operations = [_operation(row) for row in chunk]
        try:
            answers = table.submit_transaction(operations)
        except TableTransactionError as exc:
            code = str(getattr(exc, "error_code", None) or "")
            if code in CONFLICT_CODES:
                raise ConcurrencyConflict(f"a link changed since it was read ({code})") from None
            raise StoreError(f"writing {len(chunk)} link rows failed: {code or exc}") from None
        for row, answer in zip(chunk, answers, strict=True):
            row.with_etag(answer.get("etag"))


def _operation(row: Row) -> tuple[Any, ...]:
    _touch(row)
    if isinstance(row, ExchangeSyncIdMapping):
        if row.etag is None:
            raise StoreError("a link written in a batch must have been read: no ETag to compare with")
        body = encode(row, LINK_KEYS.partition_key(row), LINK_KEYS.row_key(row))
        return (
            "update",
            body,
            {"mode": UpdateMode.REPLACE, "etag": row.etag, "match_condition": MatchConditions.IfNotModified},
        )
    body = encode(row, LOOKUP_KEYS.partition_key(row), LOOKUP_KEYS.row_key(row))
    return ("upsert", body, {"mode": UpdateMode.REPLACE})


def _touch(entity: Entity) -> None:
    """What every repository write does to the entity it writes."""
    entity.modified_on = utcnow()
    entity.version_number += 1
