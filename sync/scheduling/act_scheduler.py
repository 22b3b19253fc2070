"""The ACT timer's tick (R-SCH-7, R-ELIG-6): claim the user mailboxes whose ACT cycle is due, fan them out.

It works as the incoming tick does (``scheduler.py``), on its own due index and its own lease fields of the
mailbox row (``act_due_row_key``, ``act_host_id``, ``act_lease_expires_on``), so an ACT cycle and an
incoming cycle of the same mailbox never wait for each other: a lease is an ETag compare-and-swap on the
mailbox row, an expired one is broken, a mailbox no longer eligible leaves the ACT schedule.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.errors import ConcurrencyConflict
from sync.mailboxes import eligibility
from sync.model import Mailbox
from sync.model.fields import utcnow
from sync.scheduling.polling import act_next_due
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store.due_index import DueEntry, row_key
from sync.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class ActTickReport:
    due: int = 0
    dispatched: int = 0
    busy: int = 0
    postponed: int = 0
    unscheduled: int = 0
    stale_rows: int = 0
    conflicts: int = 0


def schedule_act_now(store: Store, mailbox_id: str, now: datetime | None = None) -> Mailbox:
    """Put a mailbox on the ACT schedule, due now (after Test & Enable found ACT working)."""
    when = now or utcnow()
    before = store.get_mailbox(mailbox_id).act_due_row_key

    def due_now(mailbox: Mailbox) -> None:
        mailbox.act_due_row_key = row_key(mailbox.id, when)

    mailbox = store.mailboxes.modify(mailbox_id, "mailbox", due_now)
    store.act_due_index.move(mailbox_id, before, when)
    return mailbox


class ActScheduler:
    def __init__(
        self, store: Store, settings: Settings, send: Callable[[WorkItem], None], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.settings = settings
        self.send = send
        self.clock = clock

    def tick(self) -> ActTickReport:
        now = self.clock()
        report = ActTickReport()
        for entry in self.store.act_due_index.due(now):
            report.due += 1
            try:
                outcome = self._handle(entry, now)
            except ConcurrencyConflict:
                outcome = "conflicts"  # the mailbox changed meanwhile: the next tick looks again
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def _handle(self, entry: DueEntry, now: datetime) -> str:
        mailbox = self.store.find_mailbox(entry.mailbox_id)
        if mailbox is None or mailbox.act_due_row_key != entry.row_key:
            self.store.act_due_index.remove(entry.mailbox_id, entry.row_key)
            return "stale_rows"
        if mailbox.act_host_id and mailbox.act_lease_expires_on and mailbox.act_lease_expires_on > now:
            return "busy"
        profile = self.store.find_profile(mailbox.email_server_profile_id or "")
        verdict = eligibility.act(mailbox, profile, self.store.get_organization(), now)
        if verdict.eligible:
            self.claim(mailbox, now)
            return "dispatched"
        if set(verdict.reasons) == {eligibility.Reason.POSTPONED} and mailbox.receiving_postponed_until_for_act:
            until = mailbox.receiving_postponed_until_for_act
            mailbox.act_due_row_key = row_key(mailbox.id, until)
            self.store.mailboxes.update(mailbox)
            self.store.act_due_index.move(mailbox.id, entry.row_key, until)
            return "postponed"
        mailbox.act_due_row_key, mailbox.act_host_id = None, None
        self.store.mailboxes.update(mailbox)
        self.store.act_due_index.remove(mailbox.id, entry.row_key)
        log.info("mailbox %s leaves the ACT schedule: %s", mailbox.id, ", ".join(verdict.reasons))
        return "unscheduled"

    def claim(self, mailbox: Mailbox, now: datetime | None = None) -> WorkItem:
        """Take the ACT lease (ETag-checked) and send the work item; the next due time is predicted now, so
        a lost work item still comes back."""
        now = now or self.clock()
        lease_id = str(uuid.uuid4())
        predicted = act_next_due(
            now, mailbox.no_act_count + 1, also_incoming=mailbox.enabled_for_incoming,
            min_minutes=self.settings.act_poll_min_minutes, max_minutes=self.settings.act_poll_max_minutes,
        )  # fmt: skip
        previous = mailbox.act_due_row_key
        mailbox.act_host_id = lease_id
        mailbox.act_lease_expires_on = now + timedelta(seconds=self.settings.lease_seconds)
        mailbox.act_due_row_key = row_key(mailbox.id, predicted)
        self.store.mailboxes.update(mailbox)
        self.store.act_due_index.move(mailbox.id, previous, predicted)
        item = WorkItem(mailbox_id=mailbox.id, lease_id=lease_id, workload="act")
        self.send(item)
        return item
