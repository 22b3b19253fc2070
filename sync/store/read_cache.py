"""Reads of rows that change rarely (organization settings, profiles, mailboxes, senders), kept a short while.

A worker or sender runs many times per process; re-reading the organization and the profile on every
run would double the storage cost of an idle mailbox cycle. Changes made by an administrator reach the
running instances within ``seconds`` (a minute by default). The admin API also keeps the user or queue an
email is sent from (:meth:`ReadCache.record`), read at every create and every send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.options import EntityType
from sync.model.records import EmailEnabled
from sync.store.store import Store

T = TypeVar("T")
DEFAULT_SECONDS = 60.0


class ReadCache:
    def __init__(
        self, store: Store, *, seconds: float = DEFAULT_SECONDS, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.store, self.seconds, self.monotonic = store, seconds, monotonic
        self._entries: dict[tuple[str, str], tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], load: Callable[[], T]) -> T:
        with self._lock:
            hit = self._entries.get(key)
        if hit is None or self.monotonic() - hit[0] > self.seconds:
            hit = (self.monotonic(), load())
            with self._lock:
                self._entries[key] = hit
        return hit[1]  # type: ignore[return-value]

    def put(self, key: tuple[str, str], value: object) -> None:
        """Remember a copy just written, so the next read in this process sees it."""
        with self._lock:
            self._entries[key] = (self.monotonic(), value)

    def organization(self) -> OrganizationSettings:
        return self.get(("organization", ""), self.store.get_organization)

    def profile(self, profile_id: str | None) -> EmailServerProfile | None:
        if not profile_id:
            return None
        return self.get(("profile", profile_id), lambda: self.store.find_profile(profile_id))

    def mailbox(self, mailbox_id: str) -> Mailbox | None:
        return self.get(("mailbox", mailbox_id), lambda: self.store.find_mailbox(mailbox_id))

    def record(self, entity_type: EntityType, record_id: str) -> EmailEnabled | None:
        return self.get(
            ("record", f"{int(entity_type)}:{record_id}"), lambda: self.store.find_record(entity_type, record_id)
        )

    def put_record(self, record: EmailEnabled) -> None:
        """Remember a record just written (a user's tracking-token number), so this process reads it back."""
        self.put(("record", f"{int(record.entity_type)}:{record.id}"), record)

    def forget_record(self, entity_type: EntityType, record_id: str) -> None:
        """Drop a record this process deleted, so the next read finds it gone."""
        with self._lock:
            self._entries.pop(("record", f"{int(entity_type)}:{record_id}"), None)
