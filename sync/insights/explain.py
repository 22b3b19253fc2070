"""Why an email was not tracked, and what would track it, in an administrator's words (pure).

The answers are not a table of texts beside the rules: wherever a setting decides (a filtering method, the
sender's record, internal email), "what would track it" is found by asking the pipeline's own acceptance
(:func:`sync.incoming.accept.accept`) again with that one thing changed. So a change of the rules changes the
advice with it; nothing here can promise what the pipeline would refuse.

The facts (the owner's filtering method, the sender's record as it resolves now, the organization) are read
by :mod:`sync.insights.facts`; this module reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sync.incoming.accept import Acceptor, accept
from sync.incoming.reasons import Reason
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, FilteringMethod, ParticipationType
from sync.model.organization import OrganizationSettings

FILTERING_LABELS: dict[FilteringMethod, str] = {  # the words of Dynamics' personal options
    FilteringMethod.ALL_EMAIL: "All email messages",
    FilteringMethod.RESPONSES_TO_CRM_EMAIL: "Email messages in response to Dynamics 365 email",
    FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS: "Email messages from Dynamics 365 Leads, Contacts and Accounts",
    FilteringMethod.FROM_EMAIL_ENABLED_RECORDS: "Email messages from Dynamics 365 records that are email enabled",
    FilteringMethod.NO_EMAIL: "No email messages",
}
RECORD_NAMES: dict[EntityType, str] = {
    EntityType.SYSTEM_USER: "user",
    EntityType.QUEUE: "queue",
    EntityType.CONTACT: "contact",
    EntityType.ACCOUNT: "account",
    EntityType.LEAD: "lead",
}
ALTERNATIVES = (  # the methods suggested, narrowest first: an administrator widens no more than needed
    FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS,
    FilteringMethod.FROM_EMAIL_ENABLED_RECORDS,
    FilteringMethod.ALL_EMAIL,
)
HYPOTHETICAL_CONTACT = EntityRef(type=EntityType.CONTACT, id="00000000-0000-0000-0000-000000000000")
HYPOTHETICAL_USER = EntityRef(type=EntityType.SYSTEM_USER, id="00000000-0000-0000-0000-000000000001")
BY_HAND = (
    "track it by hand: the App for Outlook's Track, or the \u201cTracked to Dynamics 365\u201d category "
    "(Exchange), whatever the filtering method"
)
NOT_SEEN = (
    "Only the Inbox is evaluated automatically (R-IN-1): an email filed in another folder is never seen, so it "
    "has no reason recorded. A tracked folder (folder-level tracking) or the \u201cTracked to Dynamics 365\u201d "
    "category tracks it."
)


def label(method: FilteringMethod) -> str:
    return FILTERING_LABELS[method]


@dataclass(frozen=True)
class Facts:
    """What the explanation depends on, read once per mailbox (and per sender) by the caller."""

    reason: Reason
    org: OrganizationSettings
    owner: EntityRef | None = None
    owner_name: str = "the mailbox's owner"
    owner_method: FilteringMethod | None = None  # None: the owner is missing, inactive or disabled
    sender_address: str | None = None
    sender: EntityRef | None = None  # the sender's record as the address resolves today (None: unresolved)
    details: str | None = None
    retry_on: datetime | None = None
    max_incoming_bytes: int = 150 * 1024 * 1024


@dataclass(frozen=True)
class Explanation:
    reason: str
    """The reason's name (``NoCorrelationMatch``)."""
    code: int
    """The reason's code."""
    why: str
    """What happened, in words."""
    would_track: list[str] = field(default_factory=list)
    """What would have tracked it (or tracks the next such email), each a sentence."""
    needs_action: bool = True
    """False when nothing is wrong (a duplicate, a loop, our own message)."""


def tracks(
    facts: Facts,
    method: FilteringMethod,
    *,
    sender: EntityRef | None,
    correlated: bool = False,
    resolved_recipient: bool = True,
    org: OrganizationSettings | None = None,
) -> bool:
    """Would the pipeline accept this email if the owner's method, the sender or the organization were these?"""
    if facts.owner is None or facts.owner.type not in (EntityType.SYSTEM_USER, EntityType.QUEUE):
        return False
    sender_party = ActivityParty(
        participation=ParticipationType.SENDER, party=sender, address_used=facts.sender_address
    )
    recipients = [ActivityParty(participation=ParticipationType.TO_RECIPIENT, party=facts.owner)]
    decision = accept(
        sender=sender_party,
        recipients=recipients if resolved_recipient else [],
        acceptors={facts.owner.id: Acceptor(facts.owner, method)},
        mailbox_owner=facts.owner,
        correlated=correlated,
        org=org or facts.org,
    )
    return decision.accepted


def _not_matched_clause(method: FilteringMethod, facts: Facts) -> str:
    sender = facts.sender_address or "the sender"
    record = RECORD_NAMES.get(facts.sender.type, "record") if facts.sender else None
    if method is FilteringMethod.RESPONSES_TO_CRM_EMAIL:
        off = "" if facts.org.email_correlation_enabled else " (email correlation is turned off for the organization)"
        return f"this email is not a reply to an email tracked in CRM{off}"
    if method is FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS:
        found = f"belongs to a {record}" if record else "belongs to no CRM record"
        return f"{sender} {found}, not to a lead, contact or account"
    if method is FilteringMethod.FROM_EMAIL_ENABLED_RECORDS:
        return f"no CRM record has the address {sender}"
    if method is FilteringMethod.NO_EMAIL:
        return "that method tracks no email automatically"
    return "it should have tracked it"


def _no_correlation(facts: Facts) -> Explanation:
    method, reason = facts.owner_method, facts.reason
    if method is None:
        return Explanation(
            reason.label, int(reason),
            f"No CRM user or queue among the recipients accepted it, and {facts.owner_name} (the mailbox's owner) "
            "is missing, deactivated or disabled, so its filtering method could not accept it.",
            ["activate the mailbox's owner (or give the mailbox an active owner)"],
        )  # fmt: skip
    clause = _not_matched_clause(method, facts)
    why = f"The filtering method of {facts.owner_name} is \u2018{label(method)}\u2019; {clause}."
    if facts.org.use_filtering_method_of_syncing_mailbox_only:
        why += " Only the synchronizing mailbox's filtering method counts (UseFilteringMethodOfSyncingMailboxOnly)."
    advice: list[str] = []
    if tracks(facts, method, sender=facts.sender):  # the pipeline would accept it today: something changed since
        found = RECORD_NAMES.get(facts.sender.type, "record") if facts.sender else "record"
        advice.append(
            f"{facts.sender_address} now belongs to a {found}: the next email from them is tracked; {BY_HAND}"
        )
    if facts.sender is None and facts.sender_address:
        if tracks(facts, method, sender=HYPOTHETICAL_CONTACT):
            advice.append(f"no CRM record has the sender's address: create a contact for {facts.sender_address}")
        elif tracks(facts, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS, sender=HYPOTHETICAL_CONTACT):
            advice.append(
                f"no CRM record has the sender's address: create a contact for {facts.sender_address} and "
                f"\u2018{label(FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)}\u2019 would track their emails"
            )
    for alternative in ALTERNATIVES:
        if alternative is not method and tracks(facts, alternative, sender=facts.sender):
            advice.append(f"\u2018{label(alternative)}\u2019 would track this")
    if method is FilteringMethod.RESPONSES_TO_CRM_EMAIL and tracks(facts, method, sender=facts.sender, correlated=True):
        advice.append("a reply to an email tracked in CRM is tracked under the present method")
    advice.append(BY_HAND)
    return Explanation(reason.label, int(reason), why, advice)


def _no_recipient(facts: Facts) -> Explanation:
    reason = facts.reason
    why = (
        "None of the To or Cc addresses belongs to a CRM user or queue (it was sent to a distribution list, an "
        "alias, or in Bcc); such mail is tracked only by a mailbox whose owner takes \u2018All email messages\u2019."
    )
    advice: list[str] = []
    if tracks(facts, FilteringMethod.ALL_EMAIL, sender=facts.sender, resolved_recipient=False):
        advice.append(f"\u2018{label(FilteringMethod.ALL_EMAIL)}\u2019 for {facts.owner_name} would track this")
    if facts.owner is not None:
        advice.append(f"add the address it was sent to as an email address of {facts.owner_name}")
    advice.append(BY_HAND)
    return Explanation(reason.label, int(reason), why, advice)


def _internal(facts: Facts) -> Explanation:
    reason = facts.reason
    sender = facts.sender if facts.sender and facts.sender.type in RECORD_NAMES else HYPOTHETICAL_USER
    kind = RECORD_NAMES.get(sender.type, "user")
    why = (
        f"It was sent by a CRM {kind} (internal email), and the organization does not track email between its "
        "users as two activities (R-ACC-13): the sender's copy is the one tracked."
    )
    advice: list[str] = []
    changed = facts.org.model_copy(update={"track_internal_email_as_two_activities": True})
    method = facts.owner_method
    if method is not None and tracks(facts, method, sender=sender, org=changed):
        advice.append(
            "turning on \u2018Track emails sent between users as two activities\u2019 (organization setting "
            "track_internal_email_as_two_activities) would track this"
        )
    elif method is not None:
        advice.append(
            "even with \u2018Track emails sent between users as two activities\u2019 on, "
            f"\u2018{label(method)}\u2019 would not track it"
        )
    advice.append(BY_HAND)
    return Explanation(reason.label, int(reason), why, advice)


def _fixed(why: str, *advice: str, needs_action: bool = True) -> Callable[[Facts], Explanation]:
    def explain_fixed(facts: Facts) -> Explanation:
        return Explanation(
            facts.reason.label, int(facts.reason), why.format(f=facts, details=facts.details or "no details"),
            list(advice), needs_action,
        )  # fmt: skip

    return explain_fixed


def _too_large(facts: Facts) -> Explanation:
    limit = f"{facts.max_incoming_bytes / (1024 * 1024):g} MB"
    return Explanation(
        facts.reason.label, int(facts.reason),
        f"It is larger than the {limit} limit (R-IN-13): {facts.details or 'no details'}.",
        [f"a higher SYNC_MAX_INCOMING_EMAIL_BYTES (now {limit}) tracks emails of this size"],
    )  # fmt: skip


def _retry(facts: Facts) -> Explanation:
    when = f" at {facts.retry_on:%Y-%m-%d %H:%M} UTC" if facts.retry_on else ""
    return Explanation(
        facts.reason.label, int(facts.reason),
        f"Processing it failed ({facts.details or 'no details'}); it is tried again{when} (R-REC-9).",
        ["nothing to do yet: it is tried again automatically, then quarantined if it keeps failing"],
        needs_action=False,
    )  # fmt: skip


def _tracked(facts: Facts) -> Explanation:
    return Explanation(facts.reason.label, int(facts.reason), "It was tracked.", [], needs_action=False)


_EXPLAINERS: dict[Reason, Callable[[Facts], Explanation]] = {
    Reason.NO_CORRELATION_MATCH: _no_correlation,
    Reason.NO_RECIPIENT_MATCH: _no_recipient,
    Reason.INTERNAL_EMAIL_REJECT: _internal,
    Reason.TOO_LARGE: _too_large,
    Reason.RETRY_PENDING: _retry,
    Reason.DUPLICATE: _fixed(
        "Another mailbox tracked this email already (the same Message-ID, R-ACC-10); this mailbox is linked "
        "to that email instead of making a second one.",
        needs_action=False,
    ),
    Reason.ALREADY_PROCESSED: _fixed("This mailbox saw and handled it before.", needs_action=False),
    Reason.INVALID_SENDER: _fixed(
        "It has no valid From address (R-IN-14), e.g. a server's notice or an Outlook Clutter notification; "
        "safe to ignore.",
        "nothing tracks an email without a sender",
        needs_action=False,
    ),
    Reason.INVALID_FORWARD_MAIL_ITEM: _fixed(
        "A forward mailbox tracks only emails forwarded to it as attachments by a user whose incoming email is "
        "delivered through the forward mailbox (R-FWD-8): {details}.",
        "forward the email as an attachment, from a user whose incoming delivery method is Forward Mailbox",
    ),
    Reason.BOUNCE_NOT_CORRELATED: _fixed(
        "A delivery failure report that refers to no email sent from CRM.", needs_action=False
    ),
    Reason.LOOP_DETECTED: _fixed(
        "A mail loop or this service's own message (a Test & Enable email): {details}.", needs_action=False
    ),
    Reason.BEFORE_START_DATE: _fixed(
        "It was received before the mailbox's start date (R-IN-3).",
        "an earlier \u2018Process email received after\u2019 date on the mailbox or its profile",
    ),
    Reason.QUARANTINED: _fixed(
        "Processing it failed and its bytes are kept in quarantine: {details}.",
        "replay the mailbox's quarantine once the cause is fixed",
    ),
    Reason.MESSAGE_GONE: _fixed(
        "It was deleted or moved on the mail server before it could be read.",
        "moving it back into the Inbox does not process it again (R-IN-2); " + BY_HAND,
    ),
    Reason.UNKNOWN: _fixed("The reason was not recorded.", BY_HAND),
}


def explain(facts: Facts) -> Explanation:
    """The reason in words and what would track the email; every :class:`Reason` has an answer."""
    if facts.reason.accepted:
        return _tracked(facts)
    return _EXPLAINERS[facts.reason](facts)
