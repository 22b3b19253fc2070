"""The incoming scheduler (R-SCH-1/9): the timer fans the due-index shards out, claimers claim each due
mailbox with exactly one lease and send its work item (the design: :mod:`sync.scheduling.claimer`).

Claiming writes the incoming lease (``processing_state``, ``host_id`` = a new lease id,
``lease_expires_on`` = now + function timeout + 2 min); an expired one is broken and counted
(``forced_unlock_count``). Mailboxes that are no longer eligible leave the schedule until a change (Test &
Enable, approval, enabling) puts them back with :func:`schedule_now`.
"""

from __future__ import annotations

from datetime import datetime

from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow
from sync.scheduling.claim_rules import INCOMING
from sync.scheduling.claimer import Claimer, FanOutReport, TickReport
from sync.scheduling.work import WorkItem
from sync.store.due_index import DueIndex, row_key
from sync.store.store import Store

__all__ = ["FanOutReport", "Scheduler", "TickReport", "schedule_now"]


def schedule_now(store: Store, mailbox_id: str, now: datetime | None = None) -> Mailbox:
    """Put a mailbox on the schedule, due now (after creation, Test & Enable, approval...)."""
    when = now or utcnow()

    def due_now(mailbox: Mailbox) -> None:
        mailbox.due_row_key = row_key(mailbox.id, when)
        mailbox.postpone_mailbox_processing_until = None  # "now" overrides the polling interval, not error backoff

    before = store.get_mailbox(mailbox_id).due_row_key
    mailbox = store.mailboxes.modify(mailbox_id, "mailbox", due_now)
    store.due_index.move(mailbox_id, before, when)
    return mailbox


class Scheduler(Claimer):
    """Claims the mailboxes whose incoming cycle is due (table ``DueIndex``)."""

    rules = INCOMING

    @staticmethod
    def index_of(store: Store) -> DueIndex:
        return store.due_index

    def claim(self, mailbox: Mailbox, profile: EmailServerProfile | None, now: datetime | None = None) -> WorkItem:
        """Take the lease on ``mailbox`` (as read, ETag-checked) and send its work item.

        ``profile`` is the mailbox's (kept for callers; a claim no longer predicts the next due time from it).
        Raises ConcurrencyConflict when the mailbox changed since it was read.
        """
        del profile
        return self.claim_mailbox(mailbox, now)
