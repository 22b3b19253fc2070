"""Open SMTP connections, reused across the emails a process sends, capped per profile (N-12).

One connection per (server, login) is kept open between sends and handed to the next email with the
same key, so a batch from one mailbox or profile pays the TLS handshake and AUTH once. Connections are
counted per *scope* — the profile when it holds the credentials, else the mailbox — and never exceed
the profile's ``maxconcurrentconnections``: in this process a send waits for a free connection, and
across instances every open connection holds a :class:`~sync.store.slots.ConnectionSlots` lease.

A connection is retired after ``MAX_AGE_SECONDS``, at once after any failure, and by a background
reaper after ``MAX_IDLE_SECONDS`` unused: an idle connection holds a slot another instance may be
waiting for. Slot leases are short (a minute) so that a killed process gives its slots back soon: a
heartbeat renews the slot of every connection this pool holds, in use or idle, and a connection is
reused only while its slot is ours with lease to spare; one whose slot was lost is closed.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from azure.core.exceptions import AzureError

from sync.mail.errors import MailServerError
from sync.outgoing.port import NoConnectionSlot, OutgoingConnector, OutgoingSession, SmtpEndpoint
from sync.store.slots import ConnectionSlots, Slot

log = logging.getLogger(__name__)

MAX_AGE_SECONDS = 120.0
MAX_IDLE_SECONDS = 5.0  # long enough to carry a queue batch; short, because an idle connection holds a slot
WAIT_SECONDS = 10.0  # how long a send waits for a connection before the email is deferred
SLOT_RETRY_SECONDS = 0.25
HEARTBEATS_PER_LEASE = 6  # the heartbeat looks every sixth of a lease; a slot is renewed every third


@dataclass(eq=False)  # identity: the same connection, not an equal one
class _Pooled:
    key: tuple[str, int, str, str, str]
    scope: str
    limit: int  # the scope's connection limit when it was opened
    session: OutgoingSession
    slot: Slot | None
    opened: float
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)  # one renewal or release of the slot at a time
    lost: bool = False  # the slot is not ours any more: close the connection, never reuse it


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
        heartbeat_seconds: float | None = None,
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
        self.heartbeat_seconds = heartbeat_seconds or slot_lease.total_seconds() / HEARTBEATS_PER_LEASE
        self._live: set[_Pooled] = set()  # every connection holding a slot, in use or idle
        self._heartbeat: threading.Thread | None = None

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

    def renew_slots(self) -> None:
        """One heartbeat: renew the slots that are due; an idle connection whose slot was lost is closed (one in
        use is closed when it is returned)."""
        with self._lock:
            live = list(self._live)
        for pooled in live:
            if self._keep_slot(pooled):
                continue
            with self._lock:
                idle = self._idle.get(pooled.key, [])
                if pooled not in idle:
                    continue  # in use: closed at check-in
                idle.remove(pooled)
            self._discard(pooled)

    def close_all(self) -> None:
        with self._lock:
            idle = [p for pooled in self._idle.values() for p in pooled]
            self._idle.clear()
        for pooled in idle:
            self._discard(pooled)

    # --- internals ----------------------------------------------------------------------------------
    def _checkout(self, endpoint: SmtpEndpoint) -> _Pooled:
        while True:
            pooled = self._checkout_once(endpoint)
            pooled.limit = endpoint.max_connections  # a lowered limit gives up the slots above it
            if self._keep_slot(pooled):
                return pooled
            self._discard(pooled)  # its slot was lost or ran out: never use it again

    def _checkout_once(self, endpoint: SmtpEndpoint) -> _Pooled:
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
        pooled = _Pooled(endpoint.pool_key, endpoint.scope, endpoint.max_connections, session, slot, now, now)
        with self._lock:
            self.opened += 1
            if slot is not None:
                self._live.add(pooled)
                if self._heartbeat is None:
                    self._heartbeat = threading.Thread(target=self._beat, name="smtp-slot-heartbeat", daemon=True)
                    self._heartbeat.start()
        return pooled

    def _keep_slot(self, pooled: _Pooled) -> bool:
        """Renew ``pooled``'s slot when due; whether the connection may still be used (its slot is ours with
        lease to spare). A storage error leaves the lease as it was: the next heartbeat tries again."""
        if self.slots is None:
            return True
        with pooled.lock:
            if pooled.lost:
                return False
            if pooled.slot is None:
                return True
            if pooled.slot.renewal_due(self.slots.clock()):
                try:
                    renewed = self.slots.renew(pooled.slot, pooled.limit)
                except AzureError:
                    renewed = pooled.slot
                if renewed is None:
                    pooled.lost, pooled.slot = True, None  # someone else's row now: never release it
                    return False
                pooled.slot = renewed
            return pooled.slot.usable(self.slots.clock())

    def _beat(self) -> None:
        """Renew the slots of this pool's connections until it holds none; then stop."""
        while True:
            with self._lock:
                if not self._live:
                    self._heartbeat = None
                    return
            time.sleep(self.heartbeat_seconds)
            try:
                self.renew_slots()
            except Exception:  # the heartbeat must outlive any one failure; the leases still bound the damage
                log.exception("renewing connection slots failed")

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
        young = now - pooled.opened < MAX_AGE_SECONDS
        if healthy and pooled.session.usable and young and self._keep_slot(pooled):
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
        with pooled.lock:  # not while a renewal changes the ETag
            slot, pooled.slot, pooled.lost = pooled.slot, None, True
        self._release_slot(slot)
        with self._lock:
            self._live.discard(pooled)
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
