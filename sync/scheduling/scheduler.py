"""The scheduler tick (R-SCH-1/9): find due mailboxes, claim each with a lease, fan out work items.

Per due mailbox the tick costs one read and one compare-and-swap of the mailbox row plus one due-index
transaction (<= 3 Table transactions). Claiming writes the lease (``host_id`` = a new lease id,
``lease_expires_on`` = now + function timeout + 2 min) and moves the mailbox's due row to when it would
be polled next if this cycle finds no mail; a worker that finds mail moves it sooner. A mailbox whose
lease is still valid is left alone; an expired lease (a worker died) is broken and counted
(``forced_unlock_count``). Mailboxes that are no longer eligible leave the schedule until a change
(Test & Enable, approval, enabling) puts them back with :func:`schedule_now`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.errors import ConcurrencyConflict
from sync.health.alerts import Alerts, mailbox_ref, not_approved_text
from sync.mailboxes import eligibility
from sync.mailboxes.eligibility import Reason
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import utcnow
from sync.model.options import ProcessingState
from sync.scheduling import polling
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store.due_index import DueEntry, row_key
from sync.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    due: int = 0
    dispatched: int = 0  # claimed and sent (including those whose expired lease was broken)
    busy: int = 0
    leases_broken: int = 0
    postponed: int = 0
    unscheduled: int = 0
    stale_rows: int = 0
    conflicts: int = 0


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


class Scheduler:
    def __init__(
        self, store: Store, settings: Settings, send: Callable[[WorkItem], None], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.settings = settings
        self.send = send
        self.clock = clock

    def tick(self) -> TickReport:
        """Claim every due, eligible mailbox; due entries are handled concurrently (each is independent)."""
        now = self.clock()
        report = TickReport()
        org = self.store.get_organization()
        profiles: dict[str, EmailServerProfile | None] = {}
        lock = threading.Lock()

        def profile_of(profile_id: str) -> EmailServerProfile | None:
            with lock:  # read each profile once per tick, even when several threads want it at once
                if profile_id not in profiles:
                    profiles[profile_id] = self.store.find_profile(profile_id) if profile_id else None
                return profiles[profile_id]

        def handle(entry: DueEntry) -> tuple[str, ...]:
            try:
                return self._handle(entry, org, profile_of, now)
            except ConcurrencyConflict:
                return ("conflicts",)  # someone else changed the mailbox: the next tick looks again

        with ThreadPoolExecutor(max_workers=self.settings.scheduler_concurrency) as pool:
            for counted in pool.map(handle, self.store.due_index.due(now)):
                report.due += 1
                for name in counted:
                    setattr(report, name, getattr(report, name) + 1)
        return report

    def _handle(
        self, entry: DueEntry, org: OrganizationSettings, profile_of: Callable[[str], EmailServerProfile | None],
        now: datetime,
    ) -> tuple[str, ...]:  # fmt: skip
        """One due entry; returns the TickReport fields it counts in."""
        mailbox = self.store.find_mailbox(entry.mailbox_id)
        if mailbox is None or mailbox.due_row_key != entry.row_key:
            self._drop_stale(entry, mailbox)
            return ("stale_rows",)
        broken = False
        if mailbox.processing_state is ProcessingState.PROCESSING:
            if mailbox.lease_expires_on is not None and mailbox.lease_expires_on > now:
                return ("busy",)
            mailbox.forced_unlock_count += 1
            mailbox.last_forced_unlock_on = now
            broken = True
            log.warning("breaking the expired lease of mailbox %s (holder %s)", mailbox.id, mailbox.host_id)
        profile = profile_of(mailbox.email_server_profile_id or "")
        verdict = eligibility.incoming(mailbox, profile, org, now)
        if verdict.eligible:
            self.claim(mailbox, profile, now)
            return ("dispatched", "leases_broken") if broken else ("dispatched",)
        if set(verdict.reasons) == {Reason.POSTPONED}:
            self._postpone(mailbox, entry)
            return ("postponed",)
        self._unschedule(mailbox, entry, org, verdict.reasons)
        return ("unscheduled",)

    def claim(self, mailbox: Mailbox, profile: EmailServerProfile | None, now: datetime | None = None) -> WorkItem:
        """Take the lease on ``mailbox`` (as read, ETag-checked) and send its work item.

        The tick calls this for each eligible due mailbox; an administrator's "synchronize now" may too.
        Raises ConcurrencyConflict when the mailbox changed since it was read.
        """
        now = now or self.clock()
        lease_id = str(uuid.uuid4())
        predicted = polling.next_due(
            now,
            mailbox.no_email_count + 1,
            busy_minutes=self.settings.poll_busy_minutes,
            idle_max_minutes=self.settings.poll_idle_max_minutes,
            profile_min_minutes=profile.min_polling_interval_minutes if profile else 0,
        )
        previous_row = mailbox.due_row_key
        mailbox.processing_state = ProcessingState.PROCESSING
        mailbox.host_id = lease_id
        mailbox.lease_expires_on = now + timedelta(seconds=self.settings.lease_seconds)
        mailbox.processing_last_attempted_on = now
        mailbox.due_row_key = row_key(mailbox.id, predicted)
        self.store.mailboxes.update(mailbox)
        self.store.due_index.move(mailbox.id, previous_row, predicted)
        item = WorkItem(mailbox_id=mailbox.id, lease_id=lease_id)
        self.send(item)
        return item

    def _postpone(self, mailbox: Mailbox, entry: DueEntry) -> None:
        until = max(t for t in (mailbox.postpone_mailbox_processing_until, mailbox.receiving_postponed_until) if t)
        mailbox.due_row_key = row_key(mailbox.id, until)
        self.store.mailboxes.update(mailbox)
        self.store.due_index.move(mailbox.id, entry.row_key, until)

    def _unschedule(
        self, mailbox: Mailbox, entry: DueEntry, org: OrganizationSettings, reasons: tuple[Reason, ...]
    ) -> None:
        """Leave the schedule; an unapproved address also disables incoming, with R-ELIG-8's alert."""
        unapproved = Reason.NOT_APPROVED in reasons and mailbox.enabled_for_incoming
        mailbox.due_row_key = None
        mailbox.processing_state = ProcessingState.IDLE
        mailbox.host_id = None
        if unapproved:
            mailbox.enabled_for_incoming = False
        self.store.mailboxes.update(mailbox)
        self.store.due_index.remove(mailbox.id, entry.row_key)
        if unapproved:
            Alerts(self.store).raise_alert(org, not_approved_text(mailbox), mailbox_ref(mailbox), mailbox_id=mailbox.id)

    def _drop_stale(self, entry: DueEntry, mailbox: Mailbox | None) -> None:
        """A row the mailbox no longer points at: remove it, and restore the mailbox's own row if lost."""
        self.store.due_index.remove(entry.mailbox_id, entry.row_key)
        if (
            mailbox is not None
            and mailbox.due_row_key
            and not self.store.due_index.exists(mailbox.id, mailbox.due_row_key)
        ):
            self.store.due_index.restore(mailbox.id, mailbox.due_row_key)
