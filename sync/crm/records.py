"""Create, update and delete email-enabled records, keeping the address index current (R-RES-13).

All writes of users, queues, contacts, accounts and leads go through :class:`RecordService`; a record
written past it would be unresolvable, the failure Dynamics users know as a missing EmailSearch row.
"""

from __future__ import annotations

from typing import TypeVar

from sync.model.records import EmailEnabled
from sync.store.store import Store

R = TypeVar("R", bound=EmailEnabled)


class RecordService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, record: R) -> R:
        """Insert a new record (AlreadyExists if the id is taken) and index its addresses."""
        repo = self.store.repository_for(record)
        self.store.address_index.add_entries(record)
        repo.insert(record)
        return record

    def update(self, record: R) -> R:
        """Write a record read earlier (ETag-checked) and move its index rows to its new addresses."""
        repo = self.store.repository_for(record)
        previous = repo.get(repo.keys.partition_key(record), repo.keys.row_key(record))
        self.store.address_index.add_entries(record, previous)
        repo.update(record)
        self.store.address_index.remove_stale(record, previous)
        return record

    def delete(self, record: EmailEnabled) -> None:
        repo = self.store.repository_for(record)
        repo.delete(record)
        self.store.address_index.remove_stale(None, record)
