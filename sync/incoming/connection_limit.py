"""R-SCH-10: never more incoming sessions to a mail server than the profile's ``maxconcurrentconnections``.

The limit holds across every instance of the app with the same mechanism as sending (:mod:`sync.store.slots`):
an incoming session (IMAP, POP3, EWS or Graph) opens only while its worker holds a connection slot, and gives
it back when the session closes. Slots are counted per mailbox when the mailbox connects with its own
credentials, else per profile (N-12), in scopes of their own: the SMTP server of a profile is usually another
host, with its own count. A mailbox that connects with its own credentials needs no slot: its lease already
allows one incoming cycle at a time, and the limit is at least 1, so its idle cycle costs nothing more. A
profile-wide count costs four table requests per cycle (read the scope's rows, take a slot, read the waiting
mailboxes, give the slot back or keep it for the first of them).

A worker that finds every slot taken does not wait (a cycle may hold its connection for minutes): the cycle
ends as "throttled", with no failure counted and no alert, as when a server asks for a pause, and its mailbox
waits its turn (:mod:`sync.store.slot_turns`): the next slot given back is kept for the mailbox that has waited
longest, and the giver wakes it at once (``wake``, the push path's wake: a cycle on the ``mailbox-push``
queue). A mailbox nobody woke comes back after :data:`RETRY_SECONDS` and still finds its place in line. While
the session is open a heartbeat renews the short slot lease, so the slot of
a killed process comes back within about a minute; a session whose slot was lost (a renewal found it taken,
or storage could not renew it in time) refuses further calls instead of exceeding the limit. For Exchange the
check is made at each call of the session itself (folders, marks), not at each request inside a folder read.
The heartbeat stops by itself after ``hold_seconds`` (the worker's time budget and a margin), so a session
nobody closed cannot keep its slot.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from azure.core.exceptions import AzureError

from sync.mail.errors import ServerBusy
from sync.mail.port import (
    ExchangeSession,
    FolderPlan,
    FolderSync,
    IncomingSession,
    RemoteMessage,
    ServerMark,
)
from sync.model import EmailServerProfile, Mailbox
from sync.model.mailbox import FolderWatermark
from sync.model.options import CredentialRetrieval
from sync.store.slots import SLOT_LEASE, ConnectionSlots, Slot

log = logging.getLogger(__name__)

Wake = Callable[[str], object]  # queue a cycle of the mailbox with this id at once

RETRY_SECONDS = 60.0  # a mailbox refused a slot tries again at the next scheduler tick, about a minute later
HEARTBEATS_PER_LEASE = 3  # renew every third of the lease: one failed renewal still leaves time for the next


class ConnectionLimitReached(ServerBusy):
    """Every incoming connection the profile allows is in use (or this session's slot was lost): try shortly."""

    code = "ConnectionLimitReached"


def counted_together(profile: EmailServerProfile) -> bool:
    """N-12: the profile's mailboxes share its limit unless each connects with its own credentials."""
    return profile.incoming_credential_retrieval is not CredentialRetrieval.USER_OR_QUEUE


def incoming_scope(mailbox: Mailbox, profile: EmailServerProfile) -> str:
    """N-12: per mailbox when it connects with its own credentials, else per profile."""
    return f"incoming:profile:{profile.id}" if counted_together(profile) else f"incoming:mailbox:{mailbox.id}"


class HeldSlot:
    """One slot held while one session is open; a background heartbeat renews its lease."""

    def __init__(
        self, slots: ConnectionSlots, slot: Slot, limit: int, *, hold_seconds: float,
        monotonic: Callable[[], float] = time.monotonic, wake: Wake | None = None,
    ) -> None:  # fmt: skip
        self._slots, self._limit, self._wake = slots, limit, wake
        self._slot: Slot | None = slot
        self._until = monotonic() + hold_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()  # one renewal or release at a time: both change the row's ETag
        self._stop = threading.Event()
        interval = slot.lease.total_seconds() / HEARTBEATS_PER_LEASE
        self._thread = threading.Thread(target=self._beat, args=(interval,), name="incoming-slot", daemon=True)
        self._thread.start()

    def usable(self) -> bool:
        """The slot is ours with lease to spare: the connection may be used."""
        with self._lock:
            return self._slot is not None and self._slot.usable(self._slots.clock())

    def release(self) -> None:
        self._stop.set()
        with self._lock:
            slot, self._slot = self._slot, None
        if slot is not None:
            _wake(self._wake, self._slots.give_back(slot, self._limit))

    def _beat(self, interval: float) -> None:
        while not self._stop.wait(interval) and self._monotonic() < self._until:
            with self._lock:
                if self._slot is None:
                    return
                try:
                    self._slot = self._slots.renew(self._slot, self._limit)
                except AzureError:
                    continue  # the lease still runs; the next beat tries again
                if self._slot is None:
                    return  # someone else's row now: the session refuses further calls


class _Limited:
    def __init__(self, held: HeldSlot) -> None:
        self._held = held

    def _check(self) -> None:
        if not self._held.usable():
            raise ConnectionLimitReached(
                "this session's connection slot was lost; the cycle continues later", retry_after_seconds=RETRY_SECONDS
            )


class LimitedInboxSession(_Limited):
    """A POP3 or IMAP session that holds a connection slot until it is closed."""

    def __init__(self, session: IncomingSession, held: HeldSlot) -> None:
        super().__init__(held)
        self._session = session

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        self._check()
        return self._session.list_new(watermark, processed_keys)

    def fetch(self, message: RemoteMessage) -> bytes:
        self._check()
        return self._session.fetch(message)

    def delete(self, messages: list[RemoteMessage]) -> None:
        self._check()
        self._session.delete(messages)

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        return self._session.advance(watermark, message)

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            self._held.release()


class LimitedExchangeSession(_Limited):
    """An EWS or Graph session that holds a connection slot until it is closed."""

    def __init__(self, session: ExchangeSession, held: HeldSlot) -> None:
        super().__init__(held)
        self._session = session

    def folders(self, plan: FolderPlan) -> FolderSync:
        self._check()
        return self._session.folders(plan)

    def mark(self, marks: list[ServerMark]) -> None:
        self._check()
        self._session.mark(marks)

    def probe(self) -> None:
        self._check()
        self._session.probe()

    def close(self) -> None:
        try:
            self._session.close()
        finally:
            self._held.release()


class IncomingConnectionLimit:
    """Opens incoming sessions only within the profile's connection limit (R-SCH-10)."""

    def __init__(
        self, slots: ConnectionSlots, *, hold_seconds: float, lease: timedelta = SLOT_LEASE,
        holder: str | None = None, monotonic: Callable[[], float] = time.monotonic, wake: Wake | None = None,
    ) -> None:  # fmt: skip
        """``wake``: queues a cycle of a mailbox at once; a slot given back is kept for the mailbox whose turn
        it is, and this wakes it (without it, the mailbox finds its slot at its retry)."""
        self.wake = wake
        self.slots = slots
        self.hold_seconds = hold_seconds
        self.lease = lease
        self.holder = holder or f"incoming-{uuid.uuid4().hex[:12]}"
        self.monotonic = monotonic

    def open(
        self, mailbox: Mailbox, profile: EmailServerProfile, opener: Callable[[], IncomingSession | ExchangeSession]
    ) -> IncomingSession | ExchangeSession:
        """``opener()``'s session, holding a slot of the mailbox's scope; raises
        :class:`ConnectionLimitReached` when every slot is taken (nothing is opened then)."""
        if not counted_together(profile):
            return opener()  # its own credentials: the mailbox lease already allows one session at a time (<= limit)
        scope, limit = incoming_scope(mailbox, profile), profile.max_concurrent_connections
        turn = self.slots.take_turn(scope, limit, self.holder, self.lease, mailbox.id)
        for waiter in turn.handed:
            _wake(self.wake, waiter)
        slot = turn.slot
        if slot is None:
            raise ConnectionLimitReached(
                f"all {limit} incoming connections the profile {profile.name} allows are in use",
                retry_after_seconds=RETRY_SECONDS,
            )
        held = HeldSlot(
            self.slots, slot, limit, hold_seconds=self.hold_seconds, monotonic=self.monotonic, wake=self.wake
        )
        try:
            session = opener()
        except BaseException:
            held.release()
            raise
        if isinstance(session, ExchangeSession):
            return LimitedExchangeSession(session, held)
        return LimitedInboxSession(session, held)


def _wake(wake: Wake | None, mailbox_id: str | None) -> None:
    """Queue the cycle of the mailbox a slot was kept for; a failure only delays it to its retry."""
    if wake is None or mailbox_id is None:
        return
    try:
        wake(mailbox_id)
    except Exception:  # storage or queue trouble: its kept slot waits for its retry
        log.warning("waking mailbox %s for its connection slot failed", mailbox_id, exc_info=True)
