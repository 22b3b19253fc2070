"""What the Exchange benchmarks share on the CRM side: one user's approved mailbox, cycles until all is tracked."""

from __future__ import annotations

import time

from bench.corpus import log
from sync.incoming.worker import MailboxWorker
from sync.mailboxes.provisioning import Provisioning
from sync.model import EmailServerProfile, Mailbox, SystemUser
from sync.model.options import EmailAddressApproval, FilteringMethod
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.settings import Settings
from sync.store import Store


def user_mailbox(store: Store, profile: EmailServerProfile, address: str, name: str) -> Mailbox:
    """A user tracking all email, whose mailbox on ``profile`` is approved (also by an Exchange Online admin)."""
    _, mailbox = Provisioning(store).create_user(
        SystemUser(full_name=name, internal_email_address=address, incoming_filtering_method=FilteringMethod.ALL_EMAIL)
    )
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.is_email_address_approved_by_o365_admin = True  # R-ELIG-7 for Exchange Online
    store.mailboxes.update(mailbox)
    return schedule_now(store, mailbox.id)


def track_all(store: Store, settings: Settings, worker: MailboxWorker, mailbox: Mailbox, n: int) -> float:
    """Scheduler claims and worker cycles until N emails are tracked; the seconds it took."""
    scheduler = Scheduler(store, settings, lambda item: None)
    started = time.perf_counter()
    tracked = 0
    while tracked < n:
        fresh = store.get_mailbox(mailbox.id)
        report = worker.run(scheduler.claim(fresh, store.get_profile(fresh.email_server_profile_id or "")))
        if report.status != "processed" or report.fetched == 0:
            raise RuntimeError(f"cycle did not progress: {report}")
        tracked += report.tracked
        log(
            f"    cycle: listed {report.listed}, fetched {report.fetched}, tracked {report.tracked}, "
            f"not tracked {report.not_tracked}, quarantined {report.quarantined} ({tracked}/{n} tracked)"
        )
        if report.not_tracked or report.quarantined:
            raise RuntimeError(f"{report.not_tracked + report.quarantined} messages were not tracked: {report.reasons}")
    return time.perf_counter() - started


def stored_emails(store: Store, mailbox: Mailbox) -> int:
    return sum(1 for _ in store.emails.query("receiving_mailbox_id eq @m", {"m": mailbox.id}))
