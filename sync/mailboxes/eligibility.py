"""Whether a mailbox workload may run now (spec §2.3, R-ELIG-1..9) — pure, no I/O.

Each function returns :class:`Eligibility`: eligible, or *every* reason it is not, so the admin API
and alerts can say all that must be fixed at once rather than one thing per Test & Enable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sync.model.mailbox import Mailbox
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EmailConnectionChannel,
    EntityType,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ServerType,
    TestStatus,
)
from sync.model.organization import OrganizationSettings
from sync.model.profile import EmailServerProfile


class Reason(StrEnum):
    """Why a workload may not run."""

    MAILBOX_INACTIVE = "mailbox_inactive"  # R-ELIG-1
    NO_PROFILE = "no_profile"  # R-ELIG-2
    PROFILE_INACTIVE = "profile_inactive"  # R-ELIG-2
    CHANNEL_NOT_SERVER_SIDE_SYNC = "channel_not_server_side_sync"  # R-ELIG-3
    NO_EMAIL_ADDRESS = "no_email_address"
    DELIVERY_METHOD = "delivery_method"  # R-ELIG-4/5/6
    NOT_ENABLED = "not_enabled"  # R-ELIG-4/5/6
    NOT_APPROVED = "not_approved"  # R-ELIG-7
    NOT_APPROVED_BY_O365_ADMIN = "not_approved_by_o365_admin"  # R-ELIG-7, Exchange Online
    POSTPONED = "postponed"  # R-ELIG-9
    QUEUE_MAILBOX = "queue_mailbox"  # R-ELIG-6: ACT is for users only
    FORWARD_MAILBOX = "forward_mailbox"  # forward mailboxes neither send nor sync ACT
    NOT_EXCHANGE = "not_exchange"  # R-ELIG-6, R-PROV-10: ACT needs an Exchange profile
    NOT_TESTED = "not_tested"  # R-ELIG-6, R-OUT-3: ACT and sending need a successful Test & Enable


@dataclass(frozen=True)
class Eligibility:
    reasons: tuple[Reason, ...] = ()

    @property
    def eligible(self) -> bool:
        return not self.reasons

    def __bool__(self) -> bool:
        return self.eligible


def approval_required(mailbox: Mailbox, org: OrganizationSettings) -> bool:
    """Users follow the user rule; queues and forward mailboxes (shared collection boxes) the queue rule."""
    if mailbox.owner is not None and mailbox.owner.type is EntityType.SYSTEM_USER:
        return org.require_approval_for_user_email
    return org.require_approval_for_queue_email


def _common(mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings) -> list[Reason]:
    reasons: list[Reason] = []
    if not mailbox.is_active:
        reasons.append(Reason.MAILBOX_INACTIVE)
    if mailbox.email_server_profile_id is None or profile is None:
        reasons.append(Reason.NO_PROFILE)
    elif not profile.is_active:
        reasons.append(Reason.PROFILE_INACTIVE)
    if org.email_connection_channel is not EmailConnectionChannel.SERVER_SIDE_SYNC:
        reasons.append(Reason.CHANNEL_NOT_SERVER_SIDE_SYNC)
    if not mailbox.email_address:
        reasons.append(Reason.NO_EMAIL_ADDRESS)
    if approval_required(mailbox, org) and mailbox.approval is not EmailAddressApproval.APPROVED:
        reasons.append(Reason.NOT_APPROVED)
    if (
        profile is not None
        and profile.server_type is ServerType.EXCHANGE_ONLINE
        and not mailbox.is_email_address_approved_by_o365_admin
    ):
        reasons.append(Reason.NOT_APPROVED_BY_O365_ADMIN)
    return reasons


def _postponed(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def incoming(
    mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
) -> Eligibility:
    """May the mailbox's incoming email be processed now? (R-ELIG-1..4, 7, 9)"""
    reasons = _common(mailbox, profile, org)
    by_method = mailbox.is_forward_mailbox or mailbox.incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC
    if not by_method:
        reasons.append(Reason.DELIVERY_METHOD)
    if not mailbox.enabled_for_incoming:
        reasons.append(Reason.NOT_ENABLED)
    if _postponed(mailbox.postpone_mailbox_processing_until, now) or _postponed(mailbox.receiving_postponed_until, now):
        reasons.append(Reason.POSTPONED)
    return Eligibility(tuple(reasons))


def outgoing(
    mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
) -> Eligibility:
    """May email be sent from the mailbox now? (R-ELIG-1..3, 5, 7, 9)"""
    reasons = _common(mailbox, profile, org)
    if mailbox.is_forward_mailbox:
        reasons.append(Reason.FORWARD_MAILBOX)
    if mailbox.outgoing_method is not OutgoingDeliveryMethod.SERVER_SIDE_SYNC:
        reasons.append(Reason.DELIVERY_METHOD)
    if not mailbox.enabled_for_outgoing:
        reasons.append(Reason.NOT_ENABLED)
    if mailbox.outgoing_status is not TestStatus.SUCCESS:  # R-OUT-3: sending needs a passed Test & Enable
        reasons.append(Reason.NOT_TESTED)
    if _postponed(mailbox.postpone_sending_until, now):
        reasons.append(Reason.POSTPONED)
    return Eligibility(tuple(reasons))


def act(mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime) -> Eligibility:
    """May appointments, contacts and tasks be synchronized now? (R-ELIG-1..3, 6, 7, 9)"""
    reasons = _common(mailbox, profile, org)
    if mailbox.is_forward_mailbox:
        reasons.append(Reason.FORWARD_MAILBOX)
    elif mailbox.is_queue_mailbox:
        reasons.append(Reason.QUEUE_MAILBOX)
    if mailbox.act_method is not ActDeliveryMethod.SERVER_SIDE_SYNC:
        reasons.append(Reason.DELIVERY_METHOD)
    if not mailbox.enabled_for_act:
        reasons.append(Reason.NOT_ENABLED)
    if mailbox.act_status is not TestStatus.SUCCESS:
        reasons.append(Reason.NOT_TESTED)
    if profile is not None and not profile.server_type.is_exchange:
        reasons.append(Reason.NOT_EXCHANGE)
    if _postponed(mailbox.receiving_postponed_until_for_act, now):
        reasons.append(Reason.POSTPONED)
    return Eligibility(tuple(reasons))
