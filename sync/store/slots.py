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
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.model.fields import utcnow
from sync.store.keys import safe_key

MAX_SLOTS = 300  # N-12: maxconcurrentconnections is 1..300
SLOT_LEASE = timedelta(seconds=60)  # a killed holder's slot is free this long (+ the grace) after its last renewal
RENEW_MARGIN = timedelta(seconds=10)  # a holder stops using a slot this long before its lease ends (by its clock)
TAKEOVER_GRACE = timedelta(seconds=5)  # an expired row is taken only this long after its expiry: clock skew


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
