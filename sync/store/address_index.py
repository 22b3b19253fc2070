"""The address index (R-RES-13, Dynamics' ``emailsearch``): address -> every record that uses it.

Table ``AddressIndex``: PartitionKey = the escaped, case-folded address; RowKey = ``type|id|column``.
One row per (record, email column), so resolving an address is a single one-partition request, and
two records that share an address never contend for one row.

Every create, update and delete of an email-enabled record goes through :meth:`AddressIndex.sync_record`
(the record services do this), which writes the rows the record now needs and deletes the rows of
addresses it no longer has. Rows carry what resolution needs to rank matches without reading the
records (active or not, disabled user, owner), so they are rewritten when those change too.
Order on update: new rows first, then the record, then stale rows, so a crash leaves at worst a stale
extra row (which :meth:`rebuild` or re-saving the record clears), never a record that cannot be found.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.model.fields import normalize_address
from sync.model.lookups import AddressMatch
from sync.model.options import EntityType
from sync.model.records import EmailEnabled, SystemUser
from sync.store.keys import safe_key


def _row_key(entity_type: EntityType, record_id: str, column: str) -> str:
    return f"{int(entity_type)}|{record_id}|{column}"


def index_entries(record: EmailEnabled) -> dict[tuple[str, str], AddressMatch]:
    """(normalized address, row key) -> match, for every non-empty email column of ``record``."""
    entries: dict[tuple[str, str], AddressMatch] = {}
    for number, (column, address) in enumerate(record.email_columns().items(), start=1):
        if not address:
            continue
        match = AddressMatch(
            type=record.entity_type,
            id=record.id,
            column=column,
            column_number=number,
            active=record.is_active,
            disabled_user=isinstance(record, SystemUser) and record.is_disabled,
            owner_user_id=getattr(record, "owner_user_id", None),
        )
        entries[(normalize_address(address), _row_key(record.entity_type, record.id, column))] = match
    return entries


class AddressIndex:
    """Keeps and reads the address -> records index."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    def lookup(self, address: str) -> list[AddressMatch]:
        """Every record with ``address`` in an email column (one request per 1,000 matches)."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk",
            parameters={"pk": safe_key(normalize_address(address))},
            results_per_page=1000,
        )
        return [
            AddressMatch(
                type=EntityType(row["type"]),
                id=row["record_id"],
                column=row["column"],
                column_number=row["column_number"],
                active=row["active"],
                disabled_user=row["disabled_user"],
                owner_user_id=row.get("owner_user_id"),
            )
            for row in rows
        ]

    def add_entries(self, record: EmailEnabled, previous: EmailEnabled | None = None) -> None:
        """Write the rows ``record`` needs that ``previous`` did not have (or had with other values)."""
        before = index_entries(previous) if previous is not None else {}
        for (address, row_key), match in index_entries(record).items():
            if before.get((address, row_key)) != match:
                self._put(address, row_key, match)

    def remove_stale(self, record: EmailEnabled | None, previous: EmailEnabled) -> None:
        """Delete the rows ``previous`` had that ``record`` (None when deleted) no longer needs."""
        now = index_entries(record) if record is not None else {}
        for address, row_key in index_entries(previous).keys() - now.keys():
            with contextlib.suppress(ResourceNotFoundError):
                self.table.delete_entity(safe_key(address), row_key)

    def sync_record(self, record: EmailEnabled, previous: EmailEnabled | None = None) -> None:
        """Bring the index in line with ``record`` after it was stored (``previous``: the old copy)."""
        self.add_entries(record, previous)
        if previous is not None:
            self.remove_stale(record, previous)

    def rebuild(self, records: Iterable[EmailEnabled]) -> int:
        """Rewrite the rows of ``records`` (repair after a crash or an import); returns rows written."""
        written = 0
        for record in records:
            for (address, row_key), match in index_entries(record).items():
                self._put(address, row_key, match)
                written += 1
        return written

    def _put(self, address: str, row_key: str, match: AddressMatch) -> None:
        row = {
            "PartitionKey": safe_key(address),
            "RowKey": row_key,
            "type": int(match.type),
            "record_id": match.id,
            "column": match.column,
            "column_number": match.column_number,
            "active": match.active,
            "disabled_user": match.disabled_user,
        }
        if match.owner_user_id:
            row["owner_user_id"] = match.owner_user_id
        self.table.upsert_entity(row, mode=UpdateMode.REPLACE)
