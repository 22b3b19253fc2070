"""Connection slots: how N-12's "maximum concurrent connections" holds across every instance of the app.

Table ``ConnectionSlots``: PartitionKey = the escaped scope (a profile, or a mailbox that connects with
its own credentials), RowKey = the slot number ``000``..``299``. A connection may be open only while its
opener holds a slot: a row with the holder and an expiry. Taking a slot reads the scope's partition (one
request, at most 300 rows) and then inserts a free slot (insert if absent) or replaces an expired one
(ETag compare-and-swap): two instances can never hold the same slot. Releasing deletes the row, only if
it is still ours.

The lease is short (:data:`SLOT_LEASE`, a minute) and its holder renews it while the connection lives
(:meth:`ConnectionSlots.renew`, a compare-and-swap on the row), so the slot of a killed process comes
back within about a minute instead of a function timeout. Never more than ``limit`` live connections:

- a holder uses its connection only while its lease, by its own clock, has :data:`RENEW_MARGIN` left, and
  gives it up when a renewal finds the row taken (someone else holds the slot now);
- a taker replaces an expired row only :data:`TAKEOVER_GRACE` after its expiry, which covers the clock
  skew between two instances;
- a slot whose number is not below the scope's limit any more (the limit was lowered) is not renewed.

Incoming cycles take their slots in turn (:mod:`sync.store.slot_turns`): :meth:`ConnectionSlots.take_turn`
and :meth:`ConnectionSlots.give_back`. A slot given back while mailboxes wait is handed to the first of
them in the same request that removes its waiting row (an entity-group transaction: two givers cannot hand
slots to one waiter); the caller wakes it. Sending has no turns: a refused send waits for its queue message's
next delivery.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from sync.model.fields import utcnow
from sync.store.keys import safe_key
from sync.store.slot_turns import (
    KEPT_PREFIX,
    WAITER_KEYS_END,
    WAITER_PREFIX,
    ScopeView,
    scope_view,
    slot_key,
    waiter_key,
)

MAX_SLOTS = 300  # N-12: maxconcurrentconnections is 1..300
SLOT_LEASE = timedelta(seconds=60)  # a killed holder's slot is free this long (+ the grace) after its last renewal
RENEW_MARGIN = timedelta(seconds=10)  # a holder stops using a slot this long before its lease ends (by its clock)
TAKEOVER_GRACE = timedelta(seconds=5)  # an expired row is taken only this long after its expiry: clock skew
KEPT_FOR = timedelta(seconds=150)  # a slot handed to a waiter waits for its cycle: a wake, else its retry's tick
HAND_OVER_ATTEMPTS = 3  # a giver whose first waiter was served by another giver tries the next ones
WAIT_TTL = timedelta(minutes=3)  # a waiting row outlives a refused mailbox's retries a minute apart, and no more


@dataclass(frozen=True)
class Turn:
    """What :meth:`ConnectionSlots.take_turn` got: a slot, or none (a place in line); ``handed`` names the waiters
    ahead that free slots were handed to meanwhile: wake them."""

    slot: Slot | None
    handed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slot:
    scope: str
    number: int
    holder: str
    expires_on: datetime
    etag: str | None
    lease: timedelta = SLOT_LEASE
    renewed_on: datetime | None = None  # when the lease was last taken or renewed, by the holder's clock

    def renewal_due(self, now: datetime) -> bool:
        """A third of the lease has passed since it was last renewed: a renewal may fail and be retried."""
        return self.renewed_on is None or now - self.renewed_on >= self.lease / 3

    def usable(self, now: datetime) -> bool:
        """Enough lease is left to use the connection: nobody else can have taken the slot meanwhile."""
        return now < self.expires_on - min(RENEW_MARGIN, self.lease / 3)


class ConnectionSlots:
    def __init__(self, table: TableClient, clock: Callable[[], datetime] = utcnow) -> None:
        self.table = table
        self.clock = clock

    def acquire(self, scope: str, limit: int, holder: str, lease: timedelta) -> Slot | None:
        """A free slot of ``scope`` (one of ``limit``) for ``holder``, or None when all are held."""
        limit = max(1, min(limit, MAX_SLOTS))
        now = self.clock()
        partition = safe_key(scope)
        rows = {
            str(row["RowKey"]): row
            for row in self.table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
        }
        free = [n for n in range(limit) if f"{n:03d}" not in rows]
        expired = [
            n for n in range(limit) if f"{n:03d}" in rows and rows[f"{n:03d}"]["expires_on"] + TAKEOVER_GRACE <= now
        ]
        random.shuffle(free)  # instances starting together do not all race for slot 000
        random.shuffle(expired)
        for number in free + expired:
            key = f"{number:03d}"
            entity = {"PartitionKey": partition, "RowKey": key, "holder": holder, "expires_on": now + lease}
            try:
                if number in free:
                    meta = self.table.create_entity(entity)
                else:
                    meta = self.table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=rows[key].metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # someone else took it first
            return Slot(scope, number, holder, now + lease, meta.get("etag"), lease, now)
        return None

    def take_turn(self, scope: str, limit: int, holder: str, lease: timedelta, waiter: str) -> Turn:
        """A slot for ``waiter`` (a mailbox) when it is its turn, else its place in line kept.

        Its turn: a slot was kept for it, or more slots are free than waiters are ahead of it. Free slots it
        may not take are handed to the waiters ahead (a slot freed by an expired lease, or kept for a waiter
        that never came). One read and one write; a refusal writes its waiting row too."""
        limit = max(1, min(limit, MAX_SLOTS))
        now = self.clock()
        partition = safe_key(scope)
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
        view = scope_view(rows, limit, now, TAKEOVER_GRACE, _etag)
        leave_line = [_delete(partition, waiter_key(waiter))] if waiter in view.listed else []
        kept = view.kept.get(waiter)
        if kept is not None and kept < limit:
            meta = self._write_slot(partition, kept, view.etags.get(kept), holder, now + lease, leave_line)
            if meta is not None:
                return Turn(Slot(scope, kept, holder, now + lease, meta.get("etag"), lease, now))
        ahead = view.ahead_of(waiter)
        handed = self._hand_out(partition, view, min(ahead, len(view.free)), now)
        waiting = view.waiter(waiter)
        random.shuffle(view.free)  # instances starting together do not all race for slot 000
        for number in view.free:
            meta = self._write_slot(partition, number, view.etags.get(number), holder, now + lease, leave_line)
            if meta is not None:
                return Turn(Slot(scope, number, holder, now + lease, meta.get("etag"), lease, now), handed)
        since = waiting.since if waiting is not None else now
        entity = {"PartitionKey": partition, "RowKey": waiter_key(waiter), "waiter": waiter, "since": since,
                  "expires_on": now + WAIT_TTL}  # fmt: skip
        with contextlib.suppress(AzureError):  # no place kept: the next try is a newcomer's
            self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        return Turn(None, handed)

    def give_back(self, slot: Slot, limit: int) -> str | None:
        """Give the slot back; while mailboxes wait, it is kept for the first of them, whose name is returned
        (wake it). A waiter another giver served first is passed over for the next one. Never raises: a slot
        that could not be handed over or deleted expires with its lease."""
        if slot.number < max(1, min(limit, MAX_SLOTS)):
            partition = safe_key(slot.scope)
            for _ in range(HAND_OVER_ATTEMPTS):
                try:
                    waiters = self.table.query_entities(
                        "PartitionKey eq @pk and RowKey ge @first and RowKey lt @end",
                        parameters={"pk": partition, "first": WAITER_PREFIX, "end": WAITER_KEYS_END},
                    )
                    view = scope_view(waiters, limit, self.clock(), TAKEOVER_GRACE, _etag)
                    if not view.waiting:
                        break
                    view.free, view.etags = [slot.number], {slot.number: slot.etag or ""}
                    handed = self._hand_out(partition, view, 1, self.clock())
                except AzureError:
                    break
                if handed:
                    return handed[0]
        self.release(slot)
        return None

    def _hand_out(self, partition: str, view: ScopeView, count: int, now: datetime) -> tuple[str, ...]:
        """Keep up to ``count`` free slots for the first waiters, each slot in one transaction with the removal
        of its waiter's row, so two givers never serve one waiter; returns the waiters served. A slot or a
        waiter someone else changed first is passed over (it is no longer free, or no longer waiting)."""
        handed: list[str] = []
        for number, waiter in zip(list(view.free[:count]), list(view.waiting[:count]), strict=False):
            view.free.remove(number)
            served = _delete(partition, waiter_key(waiter.name))
            meta = self._write_slot(
                partition, number, view.etags.get(number), KEPT_PREFIX + waiter.name, now + KEPT_FOR, [served]
            )
            if meta is not None:
                handed.append(waiter.name)
                view.waiting.remove(waiter)
        return tuple(handed)

    def _write_slot(
        self, partition: str, number: int, etag: str | None, holder: str, expires_on: datetime,
        also: list[Operation] | None = None,
    ) -> dict[str, Any] | None:  # fmt: skip
        """Slot ``number`` for ``holder``: inserted when no row was read (``etag`` None), else the row read
        replaced if unchanged; ``also`` in the same transaction. None when someone else changed a row first."""
        entity = {"PartitionKey": partition, "RowKey": slot_key(number), "holder": holder, "expires_on": expires_on}
        condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        try:
            if also:
                write: Operation = (
                    ("create", entity, {}) if etag is None
                    else ("update", entity, {"mode": UpdateMode.REPLACE, **condition})
                )  # fmt: skip
                return dict(self.table.submit_transaction([write, *also])[0])
            if etag is None:
                return dict(self.table.create_entity(entity))
            return dict(
                self.table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
            )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError, TableTransactionError):
            return None

    def renew(self, slot: Slot, limit: int) -> Slot | None:
        """``slot`` with a fresh lease, or None when it is not ours any more (taken over, deleted) or its number
        is no longer below ``limit``. A storage error propagates: the lease still runs, the holder retries."""
        if slot.number >= max(1, min(limit, MAX_SLOTS)):
            self.release(slot)
            return None
        now = self.clock()
        entity = {
            "PartitionKey": safe_key(slot.scope),
            "RowKey": f"{slot.number:03d}",
            "holder": slot.holder,
            "expires_on": now + slot.lease,
        }
        try:
            meta = self.table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=slot.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return None
        return Slot(slot.scope, slot.number, slot.holder, now + slot.lease, meta.get("etag"), slot.lease, now)

    def release(self, slot: Slot) -> None:
        """Give the slot back, unless it expired and someone else holds it now; never raises (the lease ends)."""
        with contextlib.suppress(AzureError):  # ResourceModified: not ours any more; anything else: it expires
            self.table.delete_entity(
                safe_key(slot.scope),
                f"{slot.number:03d}",
                etag=slot.etag,
                match_condition=MatchConditions.IfNotModified,
            )


Operation = tuple[str, dict[str, Any], dict[str, Any]]  # one operation of an entity-group transaction


def _delete(partition: str, key: str) -> Operation:
    """Remove a row that must still exist (If-Match ``*``): a transaction fails when someone removed it first."""
    return ("delete", {"PartitionKey": partition, "RowKey": key}, {})


def _etag(row: Any) -> str:
    return str(row.metadata["etag"])
