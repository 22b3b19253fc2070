"""Unresolved address -> the emails that carry it, so a manual resolution reaches them all (R-RES-7).

| table           | PartitionKey                   | RowKey   |
|-----------------|--------------------------------|----------|
| UnresolvedIndex | sha256(normalized address)     | email id |

A row is written (idempotent upsert) when an email is stored with a party left unresolved, and removed once
that email's parties with the address are resolved; resolving "similar" emails is one partition read.
"""

from __future__ import annotations

import contextlib
import hashlib

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.model.fields import normalize_address


def _partition(address: str) -> str:
    return hashlib.sha256(normalize_address(address).encode("utf-8")).hexdigest()


class UnresolvedIndex:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def add(self, address: str, email_id: str) -> None:
        self.table.upsert_entity({"PartitionKey": _partition(address), "RowKey": email_id}, mode=UpdateMode.REPLACE)

    def emails(self, address: str) -> list[str]:
        """The ids of the emails that carry ``address`` unresolved (every page)."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": _partition(address)}, select=["RowKey"]
        )
        return [str(row["RowKey"]) for row in rows]

    def remove(self, address: str, email_id: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.table.delete_entity(_partition(address), email_id)
