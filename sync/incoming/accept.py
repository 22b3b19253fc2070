"""Acceptance (spec §2.9, R-ACC-1..8, 13, 14, 16) — pure: does any user or queue take this email?

An email is tracked when ANY resolved user or queue recipient accepts it under its filtering method:
``All``; ``Responses`` (it correlates to a tracked email); ``Leads, Contacts, Accounts`` (the sender
resolves to one); ``Email-enabled records`` (the sender resolves to any record); ``None``. The mailbox
being processed is asked first, so the accepting entity is usually its owner, but another recipient
may accept on its behalf (R-ACC-8) unless the organization restricts that (R-ACC-7, and
``SSSForceFilteringMethodForUserMailboxes`` for user mailboxes).

Mail sent to a distribution list or in Bcc has no resolved user/queue recipient: only an owner that
accepts ``All`` tracks it (R-ACC-16, reason ``NoRecipientMatch`` otherwise). Internal mail (sent by a user
or queue) follows R-ACC-13/14.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync.incoming.reasons import Reason
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, FilteringMethod, IncomingDeliveryMethod
from sync.model.organization import OrganizationSettings

INTERNAL_TYPES = (EntityType.SYSTEM_USER, EntityType.QUEUE)
CUSTOMER_TYPES = (EntityType.LEAD, EntityType.CONTACT, EntityType.ACCOUNT)


@dataclass(frozen=True)
class Acceptor:
    """A user or queue that could accept: its filtering method and how its mail arrives."""

    entity: EntityRef
    filtering_method: FilteringMethod
    incoming_method: IncomingDeliveryMethod | None = None


@dataclass(frozen=True)
class AcceptDecision:
    reason: Reason
    accepting: EntityRef | None = None

    @property
    def accepted(self) -> bool:
        return self.reason.accepted


def _verdict(method: FilteringMethod, sender: ActivityParty, correlated: bool) -> Reason | None:
    if method is FilteringMethod.ALL_EMAIL:
        return Reason.ACCEPT_ALL
    if method is FilteringMethod.RESPONSES_TO_CRM_EMAIL:
        return Reason.CORRELATION_MATCH if correlated else None
    sender_type = sender.party.type if sender.party else None
    if method is FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS:
        return Reason.SENDER_MATCH if sender_type in CUSTOMER_TYPES else None
    if method is FilteringMethod.FROM_EMAIL_ENABLED_RECORDS:
        return Reason.SENDER_MATCH if sender_type is not None else None
    return None


def accept(
    *,
    sender: ActivityParty,
    recipients: Sequence[ActivityParty],
    acceptors: Mapping[str, Acceptor],
    mailbox_owner: EntityRef | None,
    correlated: bool,
    org: OrganizationSettings,
    forward_mailbox: bool = False,
) -> AcceptDecision:
    """Decide for one email; ``acceptors`` holds the users/queues among ``recipients`` and the owner."""
    resolved = [p.party for p in recipients if p.party is not None and p.party.type in INTERNAL_TYPES]
    ordered: list[EntityRef] = []
    if mailbox_owner is not None:
        ordered.append(mailbox_owner)
    ordered += [r for r in resolved if r not in ordered]
    candidates = [acceptors[r.id] for r in ordered if r.id in acceptors]

    if forward_mailbox:  # R-FWD-2: only users/queues that deliver through a forward mailbox
        candidates = [c for c in candidates if c.incoming_method is IncomingDeliveryMethod.FORWARD_MAILBOX]
    elif mailbox_owner is not None and (
        org.use_filtering_method_of_syncing_mailbox_only
        or (org.force_filtering_method_for_user_mailboxes and mailbox_owner.type is EntityType.SYSTEM_USER)
    ):
        candidates = [c for c in candidates if c.entity == mailbox_owner]

    if not resolved:  # distribution list, alias or Bcc: only an owner that takes everything tracks it
        owner = next((c for c in candidates if c.entity == mailbox_owner), None)
        if owner is not None and owner.filtering_method is FilteringMethod.ALL_EMAIL:
            return AcceptDecision(Reason.ACCEPT_ALL, owner.entity)
        return AcceptDecision(Reason.NO_RECIPIENT_MATCH)

    sender_type = sender.party.type if sender.party else None
    if sender_type in INTERNAL_TYPES:
        candidates = _internal_candidates(candidates, sender_type, org)
        if not candidates:
            return AcceptDecision(Reason.INTERNAL_EMAIL_REJECT)

    for candidate in candidates:
        reason = _verdict(candidate.filtering_method, sender, correlated)
        if reason is not None:
            return AcceptDecision(reason, candidate.entity)
    return AcceptDecision(Reason.NO_CORRELATION_MATCH)


def _internal_candidates(
    candidates: list[Acceptor], sender_type: EntityType, org: OrganizationSettings
) -> list[Acceptor]:
    """R-ACC-13/14: internal mail is tracked twice only when the organization wants two activities."""
    if sender_type is EntityType.QUEUE and org.ignore_internal_email_from_queues:
        candidates = [c for c in candidates if c.entity.type is not EntityType.SYSTEM_USER]
    if org.track_internal_email_as_two_activities:
        return candidates
    if org.do_not_ignore_internal_email_to_queues:
        return [c for c in candidates if c.entity.type is EntityType.QUEUE]
    return []


def accept_sent(*, owner: Acceptor | None, recipients: Sequence[ActivityParty], correlated: bool) -> AcceptDecision:
    """R-IN-5: a message in the user's Sent Items, under the same filtering method, seen from the other side.

    The user sent it, so the sender tests of :func:`_verdict` apply to the recipients instead.
    """
    if owner is None:
        return AcceptDecision(Reason.NO_RECIPIENT_MATCH)
    method = owner.filtering_method
    types = [p.party.type for p in recipients if p.party is not None]
    if method is FilteringMethod.ALL_EMAIL:
        return AcceptDecision(Reason.ACCEPT_ALL, owner.entity)
    if method is FilteringMethod.RESPONSES_TO_CRM_EMAIL and correlated:
        return AcceptDecision(Reason.CORRELATION_MATCH, owner.entity)
    if method is FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS and any(t in CUSTOMER_TYPES for t in types):
        return AcceptDecision(Reason.SENDER_MATCH, owner.entity)
    if method is FilteringMethod.FROM_EMAIL_ENABLED_RECORDS and any(t not in INTERNAL_TYPES for t in types):
        return AcceptDecision(Reason.SENDER_MATCH, owner.entity)
    return AcceptDecision(Reason.NO_CORRELATION_MATCH)
