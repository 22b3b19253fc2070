"""Connection slots: how N-12's "maximum concurrent connections" holds across every instance of the app.

Table ``ConnectionSlots``: PartitionKey = the escaped scope (a profile, or a mailbox that connects with
its own credentials), RowKey = the slot number ``000``..``299``. A connection may be open only while its
opener holds a slot: a row with the holder and an expiry. Taking a slot reads the scope's partition (one
request, at most 300 rows) and then inserts a free slot (insert if absent) or replaces an expired one
(ETag compare-and-swap): two instances can never hold the same slot. Releasing deletes the row, only if
it is still ours. A holder that dies leaves its slot until the lease ends; leases are sized so that a
living holder closes its connection before then.
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


@dataclass(frozen=True)
class Slot:
    scope: str
    number: int
    holder: str
    expires_on: datetime
    etag: str | None


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
        expired = [n for n in range(limit) if f"{n:03d}" in rows and rows[f"{n:03d}"]["expires_on"] <= now]
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
            return Slot(scope, number, holder, now + lease, meta.get("etag"))
        return None

    def release(self, slot: Slot) -> None:
        """Give the slot back, unless it expired and someone else holds it now; never raises (the lease ends)."""
        with contextlib.suppress(AzureError):  # ResourceModified: not ours any more; anything else: it expires
            self.table.delete_entity(
                safe_key(slot.scope),
                f"{slot.number:03d}",
                etag=slot.etag,
                match_condition=MatchConditions.IfNotModified,
            )
