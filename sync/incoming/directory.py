"""Cached reads the pipeline needs per cycle: address matches and the users/queues that may accept.

A worker processes many messages from the same senders to the same owners; caching for one cycle
keeps storage reads per email low without ever serving data older than the cycle.
"""

from __future__ import annotations

from sync.incoming.accept import Acceptor
from sync.model.fields import EntityRef, normalize_address
from sync.model.lookups import AddressMatch
from sync.model.options import EntityType
from sync.model.records import Queue, SystemUser
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store


class CycleDirectory:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._matches: dict[str, list[AddressMatch]] = {}
        self._acceptors: dict[str, Acceptor | None] = {}
        self._records: dict[str, SystemUser | Queue | None] = {}

    def matches(self, address: str) -> list[AddressMatch]:
        key = normalize_address(address)
        if key not in self._matches:
            self._matches[key] = self.store.address_index.lookup(key) if key else []
        return self._matches[key]

    def record(self, ref: EntityRef) -> SystemUser | Queue | None:
        if ref.id not in self._records:
            found = self.store.find_record(ref.type, ref.id)
            self._records[ref.id] = found if isinstance(found, (SystemUser, Queue)) else None
        return self._records[ref.id]

    def acceptor(self, ref: EntityRef) -> Acceptor | None:
        """The user or queue with its filtering method and its mailbox's incoming method."""
        if ref.id not in self._acceptors:
            record = self.record(ref)
            if record is None or not record.is_active or (isinstance(record, SystemUser) and record.is_disabled):
                self._acceptors[ref.id] = None
            else:
                mailbox = self.store.find_mailbox(owned_mailbox_id(ref))
                self._acceptors[ref.id] = Acceptor(
                    ref, record.incoming_filtering_method, mailbox.incoming_method if mailbox else None
                )
        return self._acceptors[ref.id]

    def queue_owner(self, queue_id: str) -> str | None:
        record = self.record(EntityRef(type=EntityType.QUEUE, id=queue_id))
        return record.owner_user_id if isinstance(record, Queue) else None
