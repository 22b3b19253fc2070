"""Open SMTP connections, reused across the emails a process sends, capped per profile (N-12).

One connection per (server, login) is kept open between sends and handed to the next email with the
same key, so a batch from one mailbox or profile pays the TLS handshake and AUTH once. Connections are
counted per *scope* — the profile when it holds the credentials, else the mailbox — and never exceed
the profile's ``maxconcurrentconnections``: in this process a send waits for a free connection, and
across instances every open connection holds a :class:`~sync.store.slots.ConnectionSlots` lease.

A connection is retired after ``MAX_AGE_SECONDS`` (so it never outlives its slot lease, which also
covers the longest send that may start just before that age), at once after any failure, and by a
background reaper after ``MAX_IDLE_SECONDS`` unused: an idle connection holds a slot another instance
may be waiting for.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from sync.mail.errors import MailServerError
from sync.outgoing.port import NoConnectionSlot, OutgoingConnector, OutgoingSession, SmtpEndpoint
from sync.store.slots import ConnectionSlots, Slot

MAX_AGE_SECONDS = 120.0
MAX_IDLE_SECONDS = 5.0  # long enough to carry a queue batch; short, because an idle connection holds a slot
WAIT_SECONDS = 10.0  # how long a send waits for a connection before the email is deferred
SLOT_RETRY_SECONDS = 0.25


@dataclass
class _Pooled:
    key: tuple[str, int, str, str, str]
    scope: str
    session: OutgoingSession
    slot: Slot | None
    opened: float
    last_used: float


class ConnectionPool:
    def __init__(
        self,
        connector: OutgoingConnector,
        slots: ConnectionSlots | None,
        *,
        holder: str,
        slot_lease: timedelta,
        wait_seconds: float = WAIT_SECONDS,
        idle_seconds: float = MAX_IDLE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connector = connector
        self.slots = slots
        self.holder = holder
        self.slot_lease = slot_lease
        self.wait_seconds = wait_seconds
        self.idle_seconds = idle_seconds
        self.monotonic = monotonic
        self.sleep = sleep
        self._lock = threading.Condition()
        self._idle: dict[tuple[str, int, str, str, str], list[_Pooled]] = defaultdict(list)
        self._open: dict[str, int] = defaultdict(int)
        self.opened = 0  # connections opened over the pool's life (tests and benchmarks read it)
        self._reaper: threading.Thread | None = None

    @contextmanager
    def session(self, endpoint: SmtpEndpoint) -> Iterator[OutgoingSession]:
        """A connection for ``endpoint``: reused if one is idle, else opened; returned for reuse if healthy."""
        pooled = self._checkout(endpoint)
        healthy = False
        try:
            yield pooled.session
            healthy = True
        finally:
            self._checkin(pooled, healthy)

    def close_all(self) -> None:
        with self._lock:
            idle = [p for pooled in self._idle.values() for p in pooled]
            self._idle.clear()
        for pooled in idle:
            self._discard(pooled)

    # --- internals ----------------------------------------------------------------------------------
    def _checkout(self, endpoint: SmtpEndpoint) -> _Pooled:
        deadline = self.monotonic() + self.wait_seconds
        stale: list[_Pooled] = []
        try:
            with self._lock:
                while True:
                    pooled = self._take_idle(endpoint.pool_key, stale)
                    if pooled is not None:
                        return pooled
                    if self._open[endpoint.scope] < endpoint.max_connections:
                        self._open[endpoint.scope] += 1
                        break
                    remaining = deadline - self.monotonic()
                    if remaining <= 0:
                        raise NoConnectionSlot(
                            f"all {endpoint.max_connections} connections of {endpoint.scope} are busy in this process"
                        )
                    self._lock.wait(remaining)
        finally:
            for old in stale:
                self._discard(old)
        try:
            slot = self._acquire_slot(endpoint, deadline)
            try:
                session = self.connector.open(endpoint)
            except BaseException:
                self._release_slot(slot)
                raise
        except BaseException:
            with self._lock:
                self._open[endpoint.scope] -= 1
                self._lock.notify_all()
            raise
        now = self.monotonic()
        self.opened += 1
        return _Pooled(endpoint.pool_key, endpoint.scope, session, slot, now, now)

    def _take_idle(self, key: tuple[str, int, str, str, str], stale: list[_Pooled]) -> _Pooled | None:
        now = self.monotonic()
        idle = self._idle.get(key, [])
        while idle:
            pooled = idle.pop()
            young = now - pooled.opened < MAX_AGE_SECONDS and now - pooled.last_used < self.idle_seconds
            if young and pooled.session.usable:
                return pooled
            stale.append(pooled)
        return None

    def _checkin(self, pooled: _Pooled, healthy: bool) -> None:
        now = self.monotonic()
        if healthy and pooled.session.usable and now - pooled.opened < MAX_AGE_SECONDS:
            pooled.last_used = now
            with self._lock:
                self._idle[pooled.key].append(pooled)
                self._lock.notify_all()
                if self._reaper is None:
                    self._reaper = threading.Thread(target=self._reap, name="smtp-pool-reaper", daemon=True)
                    self._reaper.start()
            return
        self._discard(pooled)

    def _reap(self) -> None:
        """Close connections idle too long (releasing their slots) until none is idle; then stop."""
        while True:
            with self._lock:
                now = self.monotonic()
                expired = [p for idle in self._idle.values() for p in idle if now - p.last_used >= self.idle_seconds]
                for pooled in expired:
                    self._idle[pooled.key].remove(pooled)
                waiting = [p.last_used + self.idle_seconds - now for idle in self._idle.values() for p in idle]
                if not expired and not waiting:
                    self._reaper = None
                    return
                if not expired:
                    self._lock.wait(max(min(waiting), 0.05))
                    continue
            for pooled in expired:
                self._discard(pooled)

    def _discard(self, pooled: _Pooled) -> None:
        with contextlib.suppress(MailServerError, OSError):
            pooled.session.close()
        self._release_slot(pooled.slot)
        with self._lock:
            self._open[pooled.scope] -= 1
            self._lock.notify_all()

    def _acquire_slot(self, endpoint: SmtpEndpoint, deadline: float) -> Slot | None:
        if self.slots is None:
            return None
        while True:
            slot = self.slots.acquire(endpoint.scope, endpoint.max_connections, self.holder, self.slot_lease)
            if slot is not None:
                return slot
            if self.monotonic() >= deadline:
                raise NoConnectionSlot(f"all {endpoint.max_connections} connections of {endpoint.scope} are in use")
            self.sleep(SLOT_RETRY_SECONDS * (1 + random.random()))  # jitter against herding

    def _release_slot(self, slot: Slot | None) -> None:
        if slot is not None and self.slots is not None:
            self.slots.release(slot)
