"""One ACT cycle of one mailbox, run by the ``act-work`` queue trigger under the ACT lease.

verify the lease -> check eligibility (R-ELIG-6) -> open the mailbox's calendar, contacts and tasks ->
:class:`~sync.act.cycle.ActCycle` -> release the lease and set the next due time (5 minutes after changes,
longer while idle, N-4), with a claim ticket in the next ACT due row. Errors of the mailbox follow the
incoming rules (R-ERR-2/3): credentials and permanent errors disable ACT with an alert; transient ones come
back in 5 minutes, and after the retry limit in a row they disable ACT too (its own count,
``act_transient_failure_count``); the server's throttling comes back when it said, without an alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync.act.cycle import ActCycle, ActReport
from sync.act.org_stamp import OTHER_ORGANIZATION_CODE, check_claim
from sync.act.organization_id import organization_id
from sync.act.port import ActConnector
from sync.errors import ConcurrencyConflict
from sync.health.alerts import Alerts, act_failure_text, act_other_organization_text, mailbox_ref
from sync.health.policy import transient_retry
from sync.mail.errors import MailServerError, ServerBusy, TransientMailError
from sync.mailboxes import eligibility
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import utcnow
from sync.model.mailbox import FolderWatermark
from sync.operations.cycles import act_entry
from sync.operations.recorder import CycleRecorder
from sync.scheduling import ticket
from sync.scheduling.claim_rules import ACT
from sync.scheduling.polling import act_next_due
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store.due_index import parse_row_key, row_key
from sync.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class ActRun:
    mailbox_id: str
    status: str = "processed"  # processed | stale | ineligible | throttled | failed | disabled
    report: ActReport | None = None
    error: str | None = None


class ActWorker:
    def __init__(
        self, store: Store, settings: Settings, connector: ActConnector, clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.connector = connector
        self.clock = clock
        self.monotonic = monotonic
        self.alerts = Alerts(store)
        self.recorder = CycleRecorder(store)

    def run(self, item: WorkItem) -> ActRun:
        """One ACT cycle, then its row in the mailbox's cycle history."""
        started_on, started = self.clock(), self.monotonic()
        run = self._run(item)
        duration_ms = int((self.monotonic() - started) * 1000)
        entry = act_entry(
            item.mailbox_id, started_on, duration_ms, status=run.status, report=run.report, error=run.error
        )
        self.recorder.record(entry, self.clock())
        return run

    def _run(self, item: WorkItem) -> ActRun:
        run = ActRun(item.mailbox_id)
        now = self.clock()
        mailbox = self.store.find_mailbox(item.mailbox_id)
        if mailbox is None or mailbox.act_host_id != item.lease_id or (mailbox.act_lease_expires_on or now) < now:
            run.status = "stale"
            return run
        profile = self.store.find_profile(mailbox.email_server_profile_id or "")
        org = self.store.get_organization()
        verdict = eligibility.act(mailbox, profile, org, now)
        if not verdict or profile is None:
            run.status, run.error = "ineligible", ", ".join(verdict.reasons)
            self._release(item, None)
            return run
        try:
            deadline = self.monotonic() + self.settings.worker_budget_seconds
            exchange = self.connector.open_act(mailbox, profile, deadline=deadline)
            check_claim(exchange, organization_id(self.store), now, take_over=False)  # R-TE-7: still ours?
            owner = mailbox.owner.id if mailbox.owner else ""
            filters = {f.object_type: f.rule for f in self.store.sync_filters.partition(owner)}
            cycle = ActCycle(self.store, mailbox, exchange, now=self.clock, filters=filters,
                             save_watermark=lambda key, mark: self._checkpoint(item, key, mark))  # fmt: skip
            run.report = cycle.run()
        except ServerBusy as exc:
            run.status, run.error = "throttled", f"{exc.code}: {exc}"
            self._release(item, self.clock() + timedelta(seconds=exc.retry_after_seconds), vouch=(profile, org))
            return run
        except MailServerError as exc:
            return self._failed(item, run, mailbox, profile, exc)
        changed = bool(run.report and run.report.changes)
        self._release(item, None, changed=changed, succeeded=True, vouch=(profile, org))
        return run

    def _checkpoint(self, item: WorkItem, key: str, watermark: FolderWatermark) -> None:
        def save(m: Mailbox) -> None:
            if m.act_host_id != item.lease_id:
                raise ConcurrencyConflict(f"mailbox {m.id}: the ACT lease is no longer ours")
            m.watermarks = {**m.watermarks, key: watermark}

        self.store.mailboxes.modify(item.mailbox_id, "mailbox", save)

    def _failed(
        self, item: WorkItem, run: ActRun, mailbox: Mailbox, profile: EmailServerProfile, exc: MailServerError
    ) -> ActRun:
        disabled = self._release(item, None, failure=exc)
        run.status, run.error = ("disabled" if disabled else "failed"), f"{exc.code}: {exc}"
        details = f"{type(exc).__name__}: {exc}"
        text = (
            act_other_organization_text(mailbox, profile.name, exc.code, details)
            if exc.code == OTHER_ORGANIZATION_CODE
            else act_failure_text(mailbox, profile.name, exc.code, details, disabled=disabled)
        )
        self.alerts.raise_alert(
            self.store.get_organization(), text, mailbox_ref(mailbox), mailbox_id=mailbox.id, profile_id=profile.id
        )
        log.warning("mailbox %s: ACT %s", mailbox.id, run.error)
        return run

    def _release(
        self, item: WorkItem, retry_at: datetime | None, *, changed: bool = False,
        failure: MailServerError | None = None, succeeded: bool = False,
        vouch: tuple[EmailServerProfile, OrganizationSettings] | None = None,
    ) -> bool:  # fmt: skip
        """Drop the lease; reschedule (or leave the schedule when ineligible or disabled); whether ACT was disabled.

        ``failure``: count it (R-ERR-3) in the same write; ``succeeded``: the transient failures in a row end;
        ``vouch``: the profile and organization the cycle ran against, for the next due row's claim ticket.
        """
        now = self.clock()
        holder: dict[str, str | None] = {}
        outcome = {"disable": False}

        def release(m: Mailbox) -> None:
            if m.act_host_id != item.lease_id:
                raise ConcurrencyConflict(f"mailbox {m.id}: the ACT lease is no longer ours")
            holder["before"] = m.act_due_row_key
            m.act_host_id, m.act_lease_expires_on = None, None
            disable, retry = failure is not None and not isinstance(failure, TransientMailError), retry_at
            if isinstance(failure, TransientMailError):
                verdict = transient_retry(m.act_transient_failure_count, now, limit=self.settings.transient_retry_limit,
                                          retry_minutes=self.settings.transient_retry_minutes)  # fmt: skip
                m.act_transient_failure_count = verdict.count
                retry, disable = verdict.retry_at, verdict.retry_at is None
            elif succeeded:
                m.act_transient_failure_count = 0
            outcome["disable"] = disable
            if disable:
                m.enabled_for_act = False
            m.no_act_count = 0 if changed else m.no_act_count + 1
            due = retry or act_next_due(
                now, m.no_act_count, also_incoming=m.enabled_for_incoming,
                min_minutes=self.settings.act_poll_min_minutes, max_minutes=self.settings.act_poll_max_minutes,
            )  # fmt: skip
            m.next_scheduled_act_sync_seconds = int((due - now).total_seconds())
            m.act_due_row_key = row_key(m.id, due) if not disable else None
            holder["after"] = m.act_due_row_key

        try:
            saved = self.store.mailboxes.modify(item.mailbox_id, "mailbox", release)
        except ConcurrencyConflict:
            return outcome["disable"]  # someone else holds it now
        self._move_due_row(saved, holder.get("before"), holder.get("after"), vouch)
        return outcome["disable"]

    def _move_due_row(
        self, saved: Mailbox, before: str | None, after: str | None,
        vouch: tuple[EmailServerProfile, OrganizationSettings] | None,
    ) -> None:  # fmt: skip
        """The ACT due row follows the next due time, with a claim ticket when the mailbox stays claimable: the
        next claim is then one conditional merge, no read (sync/scheduling/ticket.py)."""
        if after is None:
            self.store.act_due_index.remove(saved.id, before)
        elif after != before:
            claim = ticket.issue(saved, *vouch, rules=ACT) if vouch else None
            self.store.act_due_index.move(saved.id, before, _due(after), claim.properties() if claim else None)


def _due(key: str) -> datetime:
    return parse_row_key(key).due_on
