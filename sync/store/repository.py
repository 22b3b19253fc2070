"""A typed repository per entity over one table: get, insert-if-absent, ETag update, paged query, batch.

Storage exceptions are translated here into the domain's errors (:class:`~sync.errors.NotFound`,
:class:`~sync.errors.AlreadyExists`, :class:`~sync.errors.ConcurrencyConflict`), so services never
import an Azure SDK. Every query follows continuation tokens, also across empty pages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from sync.errors import AlreadyExists, ConcurrencyConflict, NotFound, StoreError
from sync.model.base import Entity
from sync.model.fields import utcnow
from sync.store.codec import decode, encode

E = TypeVar("E", bound=Entity)

# Characters Azure Tables refuses in PartitionKey and RowKey: no entity can have a key holding one. Azurite
# answers a '/' in a point read with a 500, which the SDK retries for minutes, so such keys are never sent.
FORBIDDEN_KEY_CHARACTERS = frozenset("/\\#?") | {chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))}
MAX_BATCH_OPERATIONS = 100  # entity-group transactions: at most 100 operations, one partition


@dataclass(frozen=True)
class KeyScheme(Generic[E]):
    """How an entity type maps to PartitionKey/RowKey, and how an id maps to keys for point reads."""

    partition_key: Callable[[E], str]
    row_key: Callable[[E], str]


@dataclass
class Page(Generic[E]):
    """One page of a query and the opaque token for the next (None on the last page)."""

    items: list[E]
    continuation: str | None


class Op(Enum):
    INSERT = "create"
    UPSERT = "upsert"
    UPDATE = "update"
    DELETE = "delete"


def _encode_token(token: Any) -> str | None:
    if not token:
        return None
    return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()


def _decode_token(token: str | None) -> Any:
    if not token:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, UnicodeDecodeError):
        raise StoreError("invalid continuation token") from None


def _transaction_error(model: str, exc: TableTransactionError) -> StoreError:
    code = str(getattr(exc, "error_code", None) or "")
    if code == "EntityAlreadyExists":
        return AlreadyExists(f"transaction on {model}: an inserted entity already exists")
    if code in ("UpdateConditionNotSatisfied", "ConditionNotMet", "ResourceNotFound"):
        return ConcurrencyConflict(f"transaction on {model}: an entity changed since it was read ({code})")
    return StoreError(f"transaction on {model} failed: {code or exc}")


def is_storable_key(key: str) -> bool:
    return FORBIDDEN_KEY_CHARACTERS.isdisjoint(key)


class Repository(Generic[E]):
    """Typed access to one table holding one entity type."""

    def __init__(self, table: TableClient, model: type[E], keys: KeyScheme[E]) -> None:
        self.table = table
        self.model = model
        self.keys = keys

    # --- reads -------------------------------------------------------------------------------------
    def find(self, partition_key: str, row_key: str) -> E | None:
        """The entity, or None; a key no entity can have (a caller's input, say) is not sent to storage."""
        if not is_storable_key(partition_key) or not is_storable_key(row_key):
            return None
        try:
            raw = self.table.get_entity(partition_key, row_key)
        except ResourceNotFoundError:
            return None
        return self._load(raw)

    def get(self, partition_key: str, row_key: str) -> E:
        found = self.find(partition_key, row_key)
        if found is None:
            raise NotFound(f"{self.model.__name__} {partition_key}/{row_key} not found")
        return found

    def query_page(
        self,
        filter: str | None = None,
        parameters: dict[str, Any] | None = None,
        *,
        page_size: int = 100,
        continuation: str | None = None,
    ) -> Page[E]:
        """One page of matching entities; pass ``continuation`` back to get the next one."""
        if filter:
            pager = self.table.query_entities(filter, parameters=parameters, results_per_page=page_size)
        else:
            pager = self.table.list_entities(results_per_page=page_size)
        pages = pager.by_page(continuation_token=_decode_token(continuation))
        items = [self._load(raw) for raw in next(pages, [])]
        return Page(items, _encode_token(pages.continuation_token))  # type: ignore[attr-defined]

    def query(
        self, filter: str | None = None, parameters: dict[str, Any] | None = None, *, page_size: int = 1000
    ) -> Iterator[E]:
        """Every matching entity, page after page, following continuation tokens to the end."""
        continuation: str | None = None
        while True:
            page = self.query_page(filter, parameters, page_size=page_size, continuation=continuation)
            yield from page.items
            if page.continuation is None:
                return
            continuation = page.continuation

    def partition(self, partition_key: str) -> Iterator[E]:
        return self.query("PartitionKey eq @pk", {"pk": partition_key})

    # --- writes ------------------------------------------------------------------------------------
    def insert(self, entity: E) -> E:
        """Insert if absent: raises AlreadyExists when the key is taken (atomic)."""
        self._touch(entity)
        try:
            meta = self.table.create_entity(self._dump(entity))
        except ResourceExistsError:
            raise AlreadyExists(f"{self.model.__name__} {self._key_text(entity)} already exists") from None
        entity.with_etag(meta.get("etag"))
        return entity

    def upsert(self, entity: E) -> E:
        """Write unconditionally (last writer wins): only for rows nobody else contends for."""
        self._touch(entity)
        meta = self.table.upsert_entity(self._dump(entity), mode=UpdateMode.REPLACE)
        entity.with_etag(meta.get("etag"))
        return entity

    def update(self, entity: E) -> E:
        """Replace the stored copy only if it is still the one read (ETag); else ConcurrencyConflict."""
        if entity.etag is None:
            raise StoreError(f"{self.model.__name__} was not read from the store: no ETag to update against")
        self._touch(entity)
        try:
            meta = self.table.update_entity(
                self._dump(entity),
                mode=UpdateMode.REPLACE,
                etag=entity.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            raise ConcurrencyConflict(
                f"{self.model.__name__} {self._key_text(entity)} changed since it was read"
            ) from None
        except ResourceNotFoundError:
            raise NotFound(f"{self.model.__name__} {self._key_text(entity)} no longer exists") from None
        entity.with_etag(meta.get("etag"))
        return entity

    def modify(self, partition_key: str, row_key: str, change: Callable[[E], None], *, attempts: int = 10) -> E:
        """Read, apply ``change``, write back with the ETag; re-read and retry on a conflict."""
        for _ in range(attempts):
            entity = self.get(partition_key, row_key)
            change(entity)
            try:
                return self.update(entity)
            except ConcurrencyConflict:
                continue
        raise ConcurrencyConflict(f"{self.model.__name__} {partition_key}/{row_key} kept changing; gave up")

    def delete(self, entity: E, *, if_unchanged: bool = True) -> None:
        """Delete; with ``if_unchanged`` only the copy that was read (ETag). Deleting nothing is fine."""
        kwargs: dict[str, Any] = {}
        if if_unchanged and entity.etag is not None:
            kwargs = {"etag": entity.etag, "match_condition": MatchConditions.IfNotModified}
        try:
            self.table.delete_entity(self.keys.partition_key(entity), self.keys.row_key(entity), **kwargs)
        except ResourceModifiedError:
            raise ConcurrencyConflict(
                f"{self.model.__name__} {self._key_text(entity)} changed since it was read"
            ) from None

    def delete_key(self, partition_key: str, row_key: str) -> None:
        self.table.delete_entity(partition_key, row_key)

    def transact(self, operations: Sequence[tuple[Op, E]]) -> None:
        """Write many entities of ONE partition, in chunks of at most 100 (each chunk is atomic).

        Updates and deletes carry the ETag they were read with; a conflict fails the whole chunk.
        """
        if not operations:
            return
        partitions = {self.keys.partition_key(entity) for _, entity in operations}
        if len(partitions) != 1:
            raise StoreError("a transaction covers one partition; split the operations by partition key")
        for start in range(0, len(operations), MAX_BATCH_OPERATIONS):
            chunk = operations[start : start + MAX_BATCH_OPERATIONS]
            batch: list[Any] = []
            for op, entity in chunk:
                if op is not Op.DELETE:
                    self._touch(entity)
                body = self._dump(entity)
                if op is Op.UPDATE or (op is Op.DELETE and entity.etag is not None):
                    batch.append(
                        (
                            op.value,
                            body,
                            {"etag": entity.etag, "match_condition": MatchConditions.IfNotModified},
                        )
                    )
                elif op is Op.UPSERT:
                    batch.append((op.value, body, {"mode": UpdateMode.REPLACE}))
                else:
                    batch.append((op.value, body))
            try:
                results = self.table.submit_transaction(batch)
            except TableTransactionError as exc:
                raise _transaction_error(self.model.__name__, exc) from None
            for (op, entity), meta in zip(chunk, results, strict=True):
                if op is not Op.DELETE:
                    entity.with_etag(meta.get("etag"))

    # --- helpers -----------------------------------------------------------------------------------
    def _dump(self, entity: E) -> dict[str, Any]:
        return encode(entity, self.keys.partition_key(entity), self.keys.row_key(entity))

    def _load(self, raw: Any) -> E:
        entity = decode(self.model, dict(raw))
        entity.with_etag(raw.metadata.get("etag"))
        return entity

    def _key_text(self, entity: E) -> str:
        return f"{self.keys.partition_key(entity)}/{self.keys.row_key(entity)}"

    @staticmethod
    def _touch(entity: Entity) -> None:
        entity.modified_on = utcnow()
        entity.version_number += 1
