"""Where MSAL's token cache outlives the process: one sealed row per (authority, tenant, client id).

Table ``TokenCache``: PartitionKey = the escaped client id, RowKey = the escaped ``<authority host>|<tenant>``.
The row holds MSAL's serialized cache already sealed by the caller (it carries access tokens), so this module
never sees a token. A cold start reads its row once (a point read); a process writes it back only when MSAL's
cache changed. Two instances refreshing together both upsert: the last writer wins, and either cache holds
a valid token, so no ETag is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import StoreError
from sync.store.keys import safe_key

CACHE_PROPERTY = "sealed_cache"


@dataclass(frozen=True)
class TokenCacheKey:
    """The identity of one cache row: an app registration in one tenant of one identity provider."""

    authority: str  # https://host[:port], no tenant
    tenant_id: str
    client_id: str

    @property
    def partition_key(self) -> str:
        return safe_key(self.client_id)

    @property
    def row_key(self) -> str:
        return safe_key(f"{urlsplit(self.authority).netloc}|{self.tenant_id}")

    @property
    def record_id(self) -> str:
        """The row's identity as one string, for binding the sealed cache to this row."""
        return f"{self.partition_key}/{self.row_key}"


class TokenCacheStore:
    """Reads and writes the sealed cache rows; storage failures surface as :class:`~sync.errors.StoreError`."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    def load(self, key: TokenCacheKey) -> str | None:
        """The sealed cache of ``key``, or None when no process has saved one yet."""
        try:
            entity = self.table.get_entity(key.partition_key, key.row_key, select=[CACHE_PROPERTY])
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StoreError(f"the token cache row could not be read: {type(exc).__name__}") from exc
        value = entity.get(CACHE_PROPERTY)
        return value if isinstance(value, str) else None

    def save(self, key: TokenCacheKey, sealed: str) -> None:
        """Replace the row of ``key`` with ``sealed`` (insert or replace)."""
        # str(): the SDK maps property types exactly, and a SealedSecret is a str subclass
        entity = {"PartitionKey": key.partition_key, "RowKey": key.row_key, CACHE_PROPERTY: str(sealed)}
        try:
            self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except AzureError as exc:
            raise StoreError(f"the token cache row could not be written: {type(exc).__name__}") from exc
