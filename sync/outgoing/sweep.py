"""The outbox sweep (timer): nothing waits forever because a queue message was lost or a sender died.

It reads the outbox index entries due now (``sync/store/outbox.py``), one point read per email:

- Sent, Failed, Draft or gone: the entry is removed (in batches of up to 100 per transaction);
- Pending Send, and its message should have been handled ``LOST_MESSAGE_GRACE`` ago (after its send-later
  time, its back-off, its last write): the message was lost (a crash between the write and the enqueue,
  a message that went to the poison queue) — it is enqueued again and checked again a grace later.
  A duplicate message is harmless: the claim lets one through;
- Sending with an expired lease: its sender died after claiming it, so the message may have been handed
  over. It is *not* resent: it becomes Failed with a DeliveryStatusUnknown alert (``docs/outgoing.md``);
- Sending with a live lease: checked again when the lease ends.

The emails it finds Sent or Failed are counted in the organization's totals (``SyncTotals``, in the 10 minutes
they reached that state): the dashboard's send outcomes, for one totals write per 10 minutes swept, not per email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError

from sync.errors import ConcurrencyConflict
from sync.model.email import Email
from sync.model.fields import utcnow
from sync.model.options import EmailStatus
from sync.outgoing.sender import OutgoingSender
from sync.outgoing.submit import LOST_MESSAGE_GRACE
from sync.store.names import Table
from sync.store.outbox import OutboxEntry, OutboxIndex
from sync.store.store import Store
from sync.store.sync_totals import Totals, bucket_key

log = logging.getLogger(__name__)
TOTALS_SHARD_ID = "outbox-sweep"  # the totals row the sweep adds to (a singleton timer: never contended by itself)


@dataclass
class SweepReport:
    checked: int = 0
    requeued: int = 0
    expired: int = 0
    removed: int = 0
    waiting: int = 0


def due_on(email: Email) -> datetime:
    """When the email's queue message should have been handled at the latest (before the grace)."""
    times = [email.modified_on, email.postpone_email_processing_until, email.delayed_email_send_time]
    return max(t for t in times if t is not None)


class OutboxSweep:
    def __init__(self, store: Store, sender: OutgoingSender, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.sender = sender
        self.clock = clock
        self.outbox = OutboxIndex(store.account.table(Table.OUTBOX))

    def run(self) -> SweepReport:
        now = self.clock()
        report = SweepReport()
        done: list[OutboxEntry] = []
        outcomes: dict[str, tuple[datetime, Totals]] = {}
        for entry in self.outbox.due(now):
            report.checked += 1
            email = self.store.emails.find(entry.email_id, "email")
            if email is None or email.status not in (EmailStatus.PENDING_SEND, EmailStatus.SENDING):
                if email is not None and email.status in (EmailStatus.SENT, EmailStatus.FAILED):
                    _count(outcomes, email)
                done.append(entry)
            elif email.status is EmailStatus.SENDING:
                lease = email.send_lease_expires_on
                if lease is not None and lease > now:
                    self.outbox.move(entry, lease)
                    report.waiting += 1
                else:
                    resolved = self.sender.resolve_expired(email)
                    report.expired += 1
                    if resolved.outcome == "retry":  # through Exchange: pending again, still watched here
                        self.outbox.move(entry, now + LOST_MESSAGE_GRACE)
                    else:
                        done.append(entry)
            elif due_on(email) + LOST_MESSAGE_GRACE <= now:
                self.sender.enqueue(email)
                self.outbox.move(entry, now + LOST_MESSAGE_GRACE)
                report.requeued += 1
            else:
                self.outbox.move(entry, due_on(email) + LOST_MESSAGE_GRACE)
                report.waiting += 1
        report.removed = self.outbox.remove(done)
        self._record(outcomes)
        return report

    def _record(self, outcomes: dict[str, tuple[datetime, Totals]]) -> None:
        """Statistics: a storage error is logged, never fails the sweep (its entries are removed already)."""
        for when, totals in outcomes.values():
            try:
                self.store.sync_totals.add(TOTALS_SHARD_ID, when, totals)
            except (AzureError, ConcurrencyConflict):
                log.warning("the send outcomes of %s were not counted", bucket_key(when), exc_info=True)


def _count(outcomes: dict[str, tuple[datetime, Totals]], email: Email) -> None:
    when = email.modified_on  # the write of the outcome (sent on, or failed)
    _, totals = outcomes.setdefault(bucket_key(when), (when, Totals()))
    if email.status is EmailStatus.SENT:
        totals.sent += 1
    else:
        totals.send_failed += 1
