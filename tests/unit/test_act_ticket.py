"""What an ACT claim ticket vouches for (pure: the ACT rules of sync/scheduling/claim_rules.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import EntityRef
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EntityType,
    ProcessingState,
    ServerType,
    TestStatus,
)
from sync.scheduling import ticket
from sync.scheduling.claim_rules import ACT

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROFILE = EmailServerProfile(name="Exchange", server_type=ServerType.EXCHANGE_SERVER)
PROFILE.with_etag("p1")
ORG = OrganizationSettings()


def _released(**fields: object) -> Mailbox:
    """A user mailbox as the ACT worker's release wrote it (its row's ETag known)."""
    values: dict[str, object] = {
        "name": "m", "email_address": "m@example.test", "email_server_profile_id": PROFILE.id,
        "approval": EmailAddressApproval.APPROVED, "act_method": ActDeliveryMethod.SERVER_SIDE_SYNC,
        "act_status": TestStatus.SUCCESS, "version_number": 4,
        "owner": EntityRef(type=EntityType.SYSTEM_USER, id="u1"),
    }  # fmt: skip
    mailbox = Mailbox.model_validate(values | fields)
    mailbox.with_etag("m1")
    return mailbox


def test_an_act_ticket_ignores_the_incoming_lease() -> None:
    """An incoming cycle at work does not stop the ACT claim; the incoming ticket is refused meanwhile."""
    mailbox = _released(processing_state=ProcessingState.PROCESSING, host_id="incoming-lease")
    issued = ticket.issue(mailbox, PROFILE, ORG, rules=ACT)
    assert issued is not None and (issued.mailbox_etag, issued.version, issued.profile_etag) == ("m1", 4, "p1")
    assert ticket.issue(mailbox, PROFILE, ORG) is None


def test_no_act_ticket_while_the_act_lease_is_held_or_act_is_off() -> None:
    assert ticket.issue(_released(act_host_id="act-lease"), PROFILE, ORG, rules=ACT) is None
    assert ticket.issue(_released(enabled_for_act=False), PROFILE, ORG, rules=ACT) is None
    assert ticket.issue(_released(act_status=TestStatus.FAILURE), PROFILE, ORG, rules=ACT) is None
    imap = EmailServerProfile(name="IMAP", server_type=ServerType.IMAP_SMTP)
    assert ticket.issue(_released(email_server_profile_id=imap.id), imap, ORG, rules=ACT) is None  # R-ELIG-6


def test_an_act_ticket_waits_for_the_act_postpone_time() -> None:
    until = NOW + timedelta(minutes=30)
    issued = ticket.issue(_released(receiving_postponed_until_for_act=until), PROFILE, ORG, rules=ACT)
    assert issued is not None and issued.not_before == until
    assert not issued.holds(ORG, PROFILE, NOW) and issued.holds(ORG, PROFILE, until)
