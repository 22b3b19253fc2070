"""R-ELIG-1..9 as pure functions: eligible, or every reason it is not."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.mailboxes import eligibility
from sync.mailboxes.eligibility import Reason
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import EntityRef
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EntityType,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ServerType,
    StateCode,
    TestStatus,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PROFILE = EmailServerProfile(id="p1", name="IMAP", server_type=ServerType.IMAP_SMTP)
EXCHANGE = EmailServerProfile(id="p2", name="EXO", server_type=ServerType.EXCHANGE_ONLINE)
ORG = OrganizationSettings()


def _mailbox(owner_type: EntityType = EntityType.SYSTEM_USER, **changes: Any) -> Mailbox:
    values: dict[str, object] = {
        "name": "Alice",
        "email_address": "alice@example.test",
        "owner": EntityRef(type=owner_type, id="o1"),
        "email_server_profile_id": "p1",
        "approval": EmailAddressApproval.APPROVED,
        "act_method": ActDeliveryMethod.SERVER_SIDE_SYNC,
        "act_status": TestStatus.SUCCESS,
        "outgoing_status": TestStatus.SUCCESS,
    }
    values.update(changes)
    return Mailbox.model_validate(values)


def test_a_ready_mailbox_is_eligible_for_email() -> None:
    assert eligibility.incoming(_mailbox(), PROFILE, ORG, NOW).eligible
    assert eligibility.outgoing(_mailbox(), PROFILE, ORG, NOW).eligible


def test_a_ready_exchange_user_is_eligible_for_act() -> None:
    box = _mailbox(email_server_profile_id="p2", is_email_address_approved_by_o365_admin=True)
    assert eligibility.act(box, EXCHANGE, ORG, NOW).eligible


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"state": StateCode.INACTIVE}, Reason.MAILBOX_INACTIVE),
        ({"email_server_profile_id": None}, Reason.NO_PROFILE),
        ({"incoming_method": IncomingDeliveryMethod.NONE}, Reason.DELIVERY_METHOD),
        ({"incoming_method": IncomingDeliveryMethod.FORWARD_MAILBOX}, Reason.DELIVERY_METHOD),
        ({"enabled_for_incoming": False}, Reason.NOT_ENABLED),
        ({"approval": EmailAddressApproval.PENDING_APPROVAL}, Reason.NOT_APPROVED),
        ({"approval": EmailAddressApproval.REJECTED}, Reason.NOT_APPROVED),
        ({"postpone_mailbox_processing_until": NOW + timedelta(minutes=1)}, Reason.POSTPONED),
        ({"receiving_postponed_until": NOW + timedelta(seconds=1)}, Reason.POSTPONED),
        ({"email_address": None}, Reason.NO_EMAIL_ADDRESS),
    ],
)
def test_incoming_reasons(changes: dict[str, Any], reason: Reason) -> None:
    result = eligibility.incoming(_mailbox(**changes), PROFILE, ORG, NOW)
    assert not result.eligible
    assert reason in result.reasons


def test_no_profile_record_counts_as_no_profile() -> None:
    assert Reason.NO_PROFILE in eligibility.incoming(_mailbox(), None, ORG, NOW).reasons


def test_inactive_profile() -> None:
    inactive = PROFILE.model_copy(update={"state": StateCode.INACTIVE})
    assert eligibility.incoming(_mailbox(), inactive, ORG, NOW).reasons == (Reason.PROFILE_INACTIVE,)


def test_every_reason_is_reported_at_once() -> None:
    box = _mailbox(state=StateCode.INACTIVE, enabled_for_incoming=False, approval=EmailAddressApproval.EMPTY)
    reasons = set(eligibility.incoming(box, None, ORG, NOW).reasons)
    assert {Reason.MAILBOX_INACTIVE, Reason.NO_PROFILE, Reason.NOT_ENABLED, Reason.NOT_APPROVED} <= reasons


def test_postpone_in_the_past_does_not_block() -> None:
    box = _mailbox(postpone_mailbox_processing_until=NOW - timedelta(seconds=1))
    assert eligibility.incoming(box, PROFILE, ORG, NOW).eligible


def test_approval_not_needed_when_the_org_does_not_require_it() -> None:
    org = OrganizationSettings(require_approval_for_user_email=False)
    box = _mailbox(approval=EmailAddressApproval.PENDING_APPROVAL)
    assert eligibility.incoming(box, PROFILE, org, NOW).eligible
    queue_box = _mailbox(
        EntityType.QUEUE, approval=EmailAddressApproval.PENDING_APPROVAL, act_method=ActDeliveryMethod.NONE
    )
    assert Reason.NOT_APPROVED in eligibility.incoming(queue_box, PROFILE, org, NOW).reasons


def test_exchange_online_needs_o365_admin_approval_even_without_org_requirement() -> None:
    org = OrganizationSettings(require_approval_for_user_email=False)
    box = _mailbox(email_server_profile_id="p2")
    assert Reason.NOT_APPROVED_BY_O365_ADMIN in eligibility.incoming(box, EXCHANGE, org, NOW).reasons


def test_org_not_using_server_side_sync() -> None:
    org = OrganizationSettings(email_connection_channel=1)
    assert Reason.CHANNEL_NOT_SERVER_SIDE_SYNC in eligibility.incoming(_mailbox(), PROFILE, org, NOW).reasons


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"outgoing_method": OutgoingDeliveryMethod.NONE}, Reason.DELIVERY_METHOD),
        ({"outgoing_method": OutgoingDeliveryMethod.OUTLOOK}, Reason.DELIVERY_METHOD),
        ({"enabled_for_outgoing": False}, Reason.NOT_ENABLED),
        ({"postpone_sending_until": NOW + timedelta(minutes=5)}, Reason.POSTPONED),
        ({"approval": EmailAddressApproval.PENDING_APPROVAL}, Reason.NOT_APPROVED),
    ],
)
def test_outgoing_reasons(changes: dict[str, Any], reason: Reason) -> None:
    assert reason in eligibility.outgoing(_mailbox(**changes), PROFILE, ORG, NOW).reasons


def test_incoming_postpone_does_not_block_outgoing() -> None:
    box = _mailbox(postpone_mailbox_processing_until=NOW + timedelta(minutes=5))
    assert eligibility.outgoing(box, PROFILE, ORG, NOW).eligible


def test_forward_mailbox_receives_but_never_sends_or_syncs_act() -> None:
    forward = Mailbox(
        name="f",
        email_address="f@example.test",
        is_forward_mailbox=True,
        outgoing_method=OutgoingDeliveryMethod.NONE,
        email_server_profile_id="p1",
        approval=EmailAddressApproval.APPROVED,
    )
    assert eligibility.incoming(forward, PROFILE, ORG, NOW).eligible
    assert Reason.FORWARD_MAILBOX in eligibility.outgoing(forward, PROFILE, ORG, NOW).reasons
    assert Reason.FORWARD_MAILBOX in eligibility.act(forward, PROFILE, ORG, NOW).reasons


@pytest.mark.parametrize(
    ("owner", "changes", "profile", "reason"),
    [
        (EntityType.QUEUE, {}, EXCHANGE, Reason.QUEUE_MAILBOX),
        (EntityType.SYSTEM_USER, {}, PROFILE, Reason.NOT_EXCHANGE),
        (EntityType.SYSTEM_USER, {"act_method": ActDeliveryMethod.NONE}, EXCHANGE, Reason.DELIVERY_METHOD),
        (EntityType.SYSTEM_USER, {"act_method": ActDeliveryMethod.OUTLOOK}, EXCHANGE, Reason.DELIVERY_METHOD),
        (EntityType.SYSTEM_USER, {"enabled_for_act": False}, EXCHANGE, Reason.NOT_ENABLED),
        (EntityType.SYSTEM_USER, {"act_status": TestStatus.NOT_RUN}, EXCHANGE, Reason.NOT_TESTED),
        (
            EntityType.SYSTEM_USER,
            {"receiving_postponed_until_for_act": NOW + timedelta(minutes=1)},
            EXCHANGE,
            Reason.POSTPONED,
        ),
    ],
)
def test_act_reasons(owner: EntityType, changes: dict[str, Any], profile: EmailServerProfile, reason: Reason) -> None:
    box = _mailbox(owner, email_server_profile_id=profile.id, is_email_address_approved_by_o365_admin=True, **changes)
    assert reason in eligibility.act(box, profile, ORG, NOW).reasons


def test_r_out_3_a_mailbox_sends_only_after_its_outgoing_test_passed() -> None:
    for status in (TestStatus.NOT_RUN, TestStatus.FAILURE):
        verdict = eligibility.outgoing(_mailbox(outgoing_status=status), PROFILE, ORG, NOW)
        assert verdict.reasons == (Reason.NOT_TESTED,)
