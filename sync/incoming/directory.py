"""Cached reads the pipeline needs per cycle: address matches and the users/queues that may accept.

A worker processes many messages from the same senders to the same owners; caching for one cycle
keeps storage reads per email low without ever serving data older than the cycle.

Address lookups can also be started ahead (:meth:`CycleDirectory.read_ahead`): the prefetcher names the
addresses of the messages it has parsed, and their lookups run while the worker decides the messages
before them, so a decision seldom waits on a round trip for a sender seen for the first time. A lookup
read ahead is the one the cache would have kept for the rest of the cycle anyway; a record the cycle
itself creates (:meth:`CycleDirectory.forget`) drops the cached answer, ahead or not.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable
from concurrent.futures import Future

from sync.incoming.accept import Acceptor
from sync.model.fields import EntityRef, normalize_address
from sync.model.lookups import AddressMatch
from sync.model.options import EntityType
from sync.model.records import Queue, SystemUser
from sync.store.overlap import start
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store

READ_AHEAD = 8  # address lookups in flight ahead of the decisions, per cycle


class CycleDirectory:
    def __init__(self, store: Store, read_ahead: int = READ_AHEAD) -> None:
        self.store = store
        self.read_ahead_limit = read_ahead
        self._lock = threading.Lock()  # the prefetch thread reads ahead while the worker decides
        self._matches: dict[str, Future[list[AddressMatch]]] = {}
        self._ahead = 0  # lookups read ahead and not finished yet
        self._acceptors: dict[str, Acceptor | None] = {}
        self._records: dict[str, SystemUser | Queue | None] = {}

    def matches(self, address: str) -> list[AddressMatch]:
        key = normalize_address(address)
        if not key:
            return []
        with self._lock:
            known = self._matches.get(key)
        if known is not None:
            try:
                return known.result()  # cached, or read ahead (waits for it when still in flight)
            except Exception:  # a read ahead that failed: looked up again here
                pass
        found = self.store.address_index.lookup(key)
        with self._lock:
            self._matches[key] = _answered(found)
        return found

    def read_ahead(self, addresses: Iterable[str]) -> int:
        """Start the lookups of ``addresses`` not cached yet, at most ``read_ahead_limit`` in flight (the
        rest are looked up when a decision asks); returns how many were started."""
        started = 0
        for address in addresses:
            key = normalize_address(address)
            with self._lock:
                if not key or key in self._matches:
                    continue
                if self._ahead >= self.read_ahead_limit:
                    break
                self._ahead += 1
                ahead = self._matches[key] = start(functools.partial(self.store.address_index.lookup, key))
            ahead.add_done_callback(self._landed)
            started += 1
        return started

    def _landed(self, _done: Future[list[AddressMatch]]) -> None:
        with self._lock:
            self._ahead -= 1

    def forget(self, address: str) -> None:
        """The cycle changed the records of ``address``: the next decision reads them again."""
        with self._lock:
            self._matches.pop(normalize_address(address), None)

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


def _answered(matches: list[AddressMatch]) -> Future[list[AddressMatch]]:
    done: Future[list[AddressMatch]] = Future()
    done.set_result(matches)
    return done
