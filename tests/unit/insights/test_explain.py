"""Each reason an email is not tracked has words and, where a setting decides, advice the pipeline agrees with."""

from __future__ import annotations

import pytest

from sync.incoming.reasons import Reason
from sync.insights.explain import BY_HAND, Facts, explain, label
from sync.model.fields import EntityRef
from sync.model.options import EntityType, FilteringMethod
from sync.model.organization import OrganizationSettings

ORG = OrganizationSettings()
USER = EntityRef(type=EntityType.SYSTEM_USER, id="11111111-1111-1111-1111-111111111111")
QUEUE = EntityRef(type=EntityType.QUEUE, id="22222222-2222-2222-2222-222222222222")
CONTACT = EntityRef(type=EntityType.CONTACT, id="33333333-3333-3333-3333-333333333333")
COLLEAGUE = EntityRef(type=EntityType.SYSTEM_USER, id="44444444-4444-4444-4444-444444444444")


def facts(
    reason: Reason, method: FilteringMethod | None = FilteringMethod.RESPONSES_TO_CRM_EMAIL, **more: object
) -> Facts:
    values: dict[str, object] = {
        "reason": reason, "org": ORG, "owner": USER, "owner_name": "Ada Admin", "owner_method": method,
        "sender_address": "x@y.example",
    }  # fmt: skip
    values.update(more)
    return Facts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("reason", [r for r in Reason if not r.accepted])
def test_every_reason_not_tracked_has_words(reason: Reason) -> None:
    found = explain(facts(reason))
    assert found.reason == reason.label and found.code == int(reason)
    assert found.why.strip()


@pytest.mark.parametrize("reason", [r for r in Reason if r.accepted])
def test_a_tracked_email_needs_nothing(reason: Reason) -> None:
    found = explain(facts(reason))
    assert found.why == "It was tracked." and not found.needs_action


def test_responses_only_and_an_unknown_sender() -> None:
    found = explain(facts(Reason.NO_CORRELATION_MATCH))
    assert found.why.startswith(
        f"The filtering method of Ada Admin is \u2018{label(FilteringMethod.RESPONSES_TO_CRM_EMAIL)}"
    )
    assert "not a reply to an email tracked in CRM" in found.why
    assert found.would_track[0] == (
        "no CRM record has the sender's address: create a contact for x@y.example and "
        f"\u2018{label(FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)}\u2019 would track their emails"
    )
    assert f"\u2018{label(FilteringMethod.ALL_EMAIL)}\u2019 would track this" in found.would_track
    # the sender resolves to nothing: neither record-based method would take it
    assert f"\u2018{label(FilteringMethod.FROM_EMAIL_ENABLED_RECORDS)}\u2019 would track this" not in found.would_track
    assert "a reply to an email tracked in CRM is tracked under the present method" in found.would_track
    assert found.would_track[-1] == BY_HAND


def test_responses_only_and_a_contact_sender() -> None:
    found = explain(facts(Reason.NO_CORRELATION_MATCH, sender=CONTACT))
    assert found.would_track[:3] == [
        f"\u2018{label(FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)}\u2019 would track this",
        f"\u2018{label(FilteringMethod.FROM_EMAIL_ENABLED_RECORDS)}\u2019 would track this",
        f"\u2018{label(FilteringMethod.ALL_EMAIL)}\u2019 would track this",
    ]


def test_leads_contacts_accounts_and_a_colleague_sender_suggests_email_enabled_records() -> None:
    found = explain(facts(Reason.NO_CORRELATION_MATCH, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS, sender=QUEUE))
    assert "x@y.example belongs to a queue, not to a lead, contact or account" in found.why
    assert f"\u2018{label(FilteringMethod.FROM_EMAIL_ENABLED_RECORDS)}\u2019 would track this" in found.would_track


def test_a_contact_created_since_is_said() -> None:
    found = explain(facts(Reason.NO_CORRELATION_MATCH, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS, sender=CONTACT))
    assert found.would_track[0].startswith("x@y.example now belongs to a contact: the next email from them is tracked")


def test_create_a_contact_when_the_method_takes_contacts() -> None:
    found = explain(facts(Reason.NO_CORRELATION_MATCH, FilteringMethod.FROM_EMAIL_ENABLED_RECORDS))
    assert "no CRM record has the address x@y.example" in found.why
    assert found.would_track[0] == "no CRM record has the sender's address: create a contact for x@y.example"


def test_an_owner_that_cannot_accept() -> None:
    found = explain(facts(Reason.NO_CORRELATION_MATCH, None))
    assert "missing, deactivated or disabled" in found.why


def test_no_recipient_match_suggests_all_email() -> None:
    found = explain(facts(Reason.NO_RECIPIENT_MATCH))
    assert "distribution list" in found.why
    assert found.would_track[0] == f"\u2018{label(FilteringMethod.ALL_EMAIL)}\u2019 for Ada Admin would track this"


def test_internal_email_two_activities_would_track_under_email_enabled_records() -> None:
    org = OrganizationSettings(track_internal_email_as_two_activities=False)
    found = explain(
        facts(Reason.INTERNAL_EMAIL_REJECT, FilteringMethod.FROM_EMAIL_ENABLED_RECORDS, org=org, sender=COLLEAGUE)
    )
    assert "internal email" in found.why
    assert found.would_track[0].startswith("turning on \u2018Track emails sent between users as two activities\u2019")


def test_internal_email_two_activities_is_not_enough_for_responses_only() -> None:
    org = OrganizationSettings(track_internal_email_as_two_activities=False)
    found = explain(facts(Reason.INTERNAL_EMAIL_REJECT, org=org, sender=COLLEAGUE))
    assert found.would_track[0].startswith("even with \u2018Track emails sent between users as two activities\u2019 on")


def test_too_large_names_the_limit_and_its_setting() -> None:
    found = explain(facts(Reason.TOO_LARGE, max_incoming_bytes=10 * 1024 * 1024, details="12000000 bytes"))
    assert "10 MB limit" in found.why and "SYNC_MAX_INCOMING_EMAIL_BYTES" in found.would_track[0]


def test_a_duplicate_needs_nothing() -> None:
    assert not explain(facts(Reason.DUPLICATE)).needs_action
