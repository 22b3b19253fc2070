"""What differs between claiming a mailbox's incoming cycle and its ACT cycle: the rules one claimer applies.

A mailbox row carries two schedules and two leases (R-SCH-7/9): the incoming ones (``due_row_key``,
``processing_state``/``host_id``/``lease_expires_on``) and the ACT ones (``act_due_row_key``,
``act_host_id``/``act_lease_expires_on``), so an ACT cycle and an incoming cycle of one mailbox never wait
for each other. The claimer (:mod:`sync.scheduling.claimer`) and the claim tickets (:mod:`.ticket`) are the
same for both; they read and write a mailbox's schedule and lease only through these rules. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sync.mailboxes import eligibility
from sync.mailboxes.eligibility import Eligibility, Reason
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.options import ProcessingState
from sync.store.mailbox_lease import Lease

LeaseState = Literal["free", "held", "expired"]


class ClaimRules:
    """One workload's schedule and lease fields on the mailbox row, and its eligibility."""

    workload: str

    def due_row_key(self, mailbox: Mailbox) -> str | None:
        raise NotImplementedError

    def set_due_row_key(self, mailbox: Mailbox, key: str | None) -> None:
        raise NotImplementedError

    def lease_state(self, mailbox: Mailbox, now: datetime) -> LeaseState:
        raise NotImplementedError

    def idle(self, mailbox: Mailbox) -> bool:
        """No trace of a lease at all: the state a claim ticket may vouch for."""
        raise NotImplementedError

    def break_lease(self, mailbox: Mailbox, now: datetime) -> None:
        """Record that an expired lease is being broken (the claim that follows overwrites it)."""

    def verdict(
        self, mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
    ) -> Eligibility:
        raise NotImplementedError

    def postponed_until(self, mailbox: Mailbox) -> datetime | None:
        """The latest of the workload's postpone times (R-ELIG-9), None when not postponed."""
        raise NotImplementedError

    def take(self, mailbox: Mailbox, lease: Lease) -> None:
        """Write ``lease`` onto the mailbox as read (the caller saves it with its ETag)."""
        raise NotImplementedError

    def lease_properties(self, lease: Lease) -> dict[str, Any]:
        """The same lease as the properties of a merge onto the mailbox row (a claim by ticket)."""
        raise NotImplementedError

    def unschedule(self, mailbox: Mailbox, reasons: tuple[Reason, ...]) -> bool:
        """Leave the workload's schedule; whether R-ELIG-8's alert is due (an unapproved address)."""
        raise NotImplementedError

    def free_and_eligible_but_postponed(
        self, mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings
    ) -> bool:
        """What a claim ticket vouches for: no lease, and eligible whenever its postpone times have passed."""
        if not self.idle(mailbox):
            return False
        verdict = self.verdict(mailbox, profile, org, datetime.max.replace(tzinfo=UTC))
        return all(reason is Reason.POSTPONED for reason in verdict.reasons)


class IncomingRules(ClaimRules):
    workload = "incoming"

    def due_row_key(self, mailbox: Mailbox) -> str | None:
        return mailbox.due_row_key

    def set_due_row_key(self, mailbox: Mailbox, key: str | None) -> None:
        mailbox.due_row_key = key

    def lease_state(self, mailbox: Mailbox, now: datetime) -> LeaseState:
        if mailbox.processing_state is not ProcessingState.PROCESSING:
            return "free"
        if mailbox.lease_expires_on is not None and mailbox.lease_expires_on > now:
            return "held"
        return "expired"

    def idle(self, mailbox: Mailbox) -> bool:
        return mailbox.processing_state is ProcessingState.IDLE and mailbox.host_id is None

    def break_lease(self, mailbox: Mailbox, now: datetime) -> None:
        mailbox.forced_unlock_count += 1
        mailbox.last_forced_unlock_on = now

    def verdict(
        self, mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
    ) -> Eligibility:
        return eligibility.incoming(mailbox, profile, org, now)

    def postponed_until(self, mailbox: Mailbox) -> datetime | None:
        times = [t for t in (mailbox.postpone_mailbox_processing_until, mailbox.receiving_postponed_until) if t]
        return max(times) if times else None

    def take(self, mailbox: Mailbox, lease: Lease) -> None:
        mailbox.processing_state = ProcessingState.PROCESSING
        mailbox.host_id = lease.lease_id
        mailbox.lease_expires_on = lease.expires_on
        mailbox.processing_last_attempted_on = lease.taken_on

    def lease_properties(self, lease: Lease) -> dict[str, Any]:
        return {
            "processing_state": int(ProcessingState.PROCESSING),
            "host_id": lease.lease_id,
            "lease_expires_on": lease.expires_on.astimezone(UTC),
            "processing_last_attempted_on": lease.taken_on.astimezone(UTC),
        }

    def unschedule(self, mailbox: Mailbox, reasons: tuple[Reason, ...]) -> bool:
        unapproved = Reason.NOT_APPROVED in reasons and mailbox.enabled_for_incoming
        mailbox.due_row_key = None
        mailbox.processing_state = ProcessingState.IDLE
        mailbox.host_id = None
        if unapproved:
            mailbox.enabled_for_incoming = False
        return unapproved


class ActRules(ClaimRules):
    workload = "act"

    def due_row_key(self, mailbox: Mailbox) -> str | None:
        return mailbox.act_due_row_key

    def set_due_row_key(self, mailbox: Mailbox, key: str | None) -> None:
        mailbox.act_due_row_key = key

    def lease_state(self, mailbox: Mailbox, now: datetime) -> LeaseState:
        if mailbox.act_host_id is None:
            return "free"
        if mailbox.act_lease_expires_on is not None and mailbox.act_lease_expires_on > now:
            return "held"
        return "expired"

    def idle(self, mailbox: Mailbox) -> bool:
        return mailbox.act_host_id is None

    def verdict(
        self, mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
    ) -> Eligibility:
        return eligibility.act(mailbox, profile, org, now)

    def postponed_until(self, mailbox: Mailbox) -> datetime | None:
        return mailbox.receiving_postponed_until_for_act

    def take(self, mailbox: Mailbox, lease: Lease) -> None:
        mailbox.act_host_id = lease.lease_id
        mailbox.act_lease_expires_on = lease.expires_on

    def lease_properties(self, lease: Lease) -> dict[str, Any]:
        return {"act_host_id": lease.lease_id, "act_lease_expires_on": lease.expires_on.astimezone(UTC)}

    def unschedule(self, mailbox: Mailbox, reasons: tuple[Reason, ...]) -> bool:
        mailbox.act_due_row_key, mailbox.act_host_id = None, None
        return False


INCOMING = IncomingRules()
ACT = ActRules()
