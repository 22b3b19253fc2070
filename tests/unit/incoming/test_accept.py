from sync.incoming.accept import Acceptor, accept, accept_sent
from sync.incoming.reasons import Reason
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, FilteringMethod, IncomingDeliveryMethod, ParticipationType
from sync.model.organization import OrganizationSettings

ORG = OrganizationSettings()
ALICE = EntityRef(type=EntityType.SYSTEM_USER, id="alice")
BOB = EntityRef(type=EntityType.SYSTEM_USER, id="bob")
SUPPORT = EntityRef(type=EntityType.QUEUE, id="support")
CONTACT = EntityRef(type=EntityType.CONTACT, id="carol")


def party(ref: EntityRef | None, kind: ParticipationType = ParticipationType.TO_RECIPIENT) -> ActivityParty:
    return ActivityParty(participation=kind, party=ref, address_used="x@y")


SENDER_CONTACT = party(CONTACT, ParticipationType.SENDER)
SENDER_UNKNOWN = party(None, ParticipationType.SENDER)


def acceptors(*items: tuple[EntityRef, FilteringMethod]) -> dict[str, Acceptor]:
    return {ref.id: Acceptor(ref, method) for ref, method in items}


def run(
    sender: ActivityParty,
    recipients: list[ActivityParty],
    table: dict[str, Acceptor],
    *,
    owner: EntityRef | None = ALICE,
    correlated: bool = False,
    org: OrganizationSettings = ORG,
    forward: bool = False,
) -> tuple[Reason, EntityRef | None]:
    d = accept(sender=sender, recipients=recipients, acceptors=table, mailbox_owner=owner, correlated=correlated,
               org=org, forward_mailbox=forward)  # fmt: skip
    return d.reason, d.accepting


def test_responses_filter_needs_correlation() -> None:
    table = acceptors((ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL))
    assert run(SENDER_CONTACT, [party(ALICE)], table) == (Reason.NO_CORRELATION_MATCH, None)
    assert run(SENDER_CONTACT, [party(ALICE)], table, correlated=True) == (Reason.CORRELATION_MATCH, ALICE)


def test_all_filter_accepts_anything() -> None:
    table = acceptors((ALICE, FilteringMethod.ALL_EMAIL))
    assert run(SENDER_UNKNOWN, [party(ALICE)], table) == (Reason.ACCEPT_ALL, ALICE)


def test_leads_contacts_accounts_filter_needs_such_a_sender() -> None:
    table = acceptors((ALICE, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS))
    assert run(SENDER_CONTACT, [party(ALICE)], table) == (Reason.SENDER_MATCH, ALICE)
    assert run(SENDER_UNKNOWN, [party(ALICE)], table)[0] is Reason.NO_CORRELATION_MATCH
    sender_user = party(BOB, ParticipationType.SENDER)
    assert run(sender_user, [party(ALICE)], table)[0] is Reason.NO_CORRELATION_MATCH


def test_email_enabled_filter_takes_any_resolved_sender() -> None:
    table = acceptors((ALICE, FilteringMethod.FROM_EMAIL_ENABLED_RECORDS))
    assert run(party(BOB, ParticipationType.SENDER), [party(ALICE)], table) == (Reason.SENDER_MATCH, ALICE)


def test_no_email_filter_accepts_nothing() -> None:
    table = acceptors((ALICE, FilteringMethod.NO_EMAIL))
    assert run(SENDER_CONTACT, [party(ALICE)], table, correlated=True)[0] is Reason.NO_CORRELATION_MATCH


def test_another_recipient_may_accept_on_the_mailbox_behalf() -> None:
    table = acceptors((ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL), (SUPPORT, FilteringMethod.ALL_EMAIL))
    assert run(SENDER_CONTACT, [party(ALICE), party(SUPPORT)], table) == (Reason.ACCEPT_ALL, SUPPORT)


def test_syncing_mailbox_only_restricts_to_the_owner() -> None:
    org = OrganizationSettings(use_filtering_method_of_syncing_mailbox_only=True)
    table = acceptors((ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL), (SUPPORT, FilteringMethod.ALL_EMAIL))
    assert run(SENDER_CONTACT, [party(ALICE), party(SUPPORT)], table, org=org)[0] is Reason.NO_CORRELATION_MATCH


def test_distribution_list_mail_needs_an_owner_that_takes_all() -> None:
    unresolved = [party(None)]
    assert (
        run(SENDER_CONTACT, unresolved, acceptors((ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL)))[0]
        is Reason.NO_RECIPIENT_MATCH
    )
    assert run(SENDER_CONTACT, unresolved, acceptors((ALICE, FilteringMethod.ALL_EMAIL))) == (Reason.ACCEPT_ALL, ALICE)


def test_contacts_in_to_do_not_count_as_recipients() -> None:
    table = acceptors((ALICE, FilteringMethod.ALL_EMAIL))
    assert run(SENDER_CONTACT, [party(CONTACT)], table) == (Reason.ACCEPT_ALL, ALICE)
    table = acceptors((ALICE, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS))
    assert run(SENDER_CONTACT, [party(CONTACT)], table)[0] is Reason.NO_RECIPIENT_MATCH


def test_internal_mail_tracked_twice_by_default() -> None:
    table = acceptors((ALICE, FilteringMethod.FROM_EMAIL_ENABLED_RECORDS))
    assert run(party(BOB, ParticipationType.SENDER), [party(ALICE)], table)[0] is Reason.SENDER_MATCH


def test_internal_mail_rejected_without_two_activities() -> None:
    org = OrganizationSettings(track_internal_email_as_two_activities=False)
    table = acceptors((ALICE, FilteringMethod.ALL_EMAIL))
    assert run(party(BOB, ParticipationType.SENDER), [party(ALICE)], table, org=org)[0] is Reason.INTERNAL_EMAIL_REJECT


def test_internal_mail_to_queues_still_tracked_without_two_activities() -> None:
    org = OrganizationSettings(track_internal_email_as_two_activities=False)
    table = acceptors((ALICE, FilteringMethod.ALL_EMAIL), (SUPPORT, FilteringMethod.ALL_EMAIL))
    result = run(party(BOB, ParticipationType.SENDER), [party(ALICE), party(SUPPORT)], table, org=org)
    assert result == (Reason.ACCEPT_ALL, SUPPORT)


def test_queue_to_user_mail_ignored_when_configured() -> None:
    org = OrganizationSettings(ignore_internal_email_from_queues=True)
    table = acceptors((ALICE, FilteringMethod.ALL_EMAIL))
    assert (
        run(party(SUPPORT, ParticipationType.SENDER), [party(ALICE)], table, org=org)[0] is Reason.INTERNAL_EMAIL_REJECT
    )


def test_forward_mailbox_only_serves_forwarding_recipients() -> None:
    table = {
        ALICE.id: Acceptor(ALICE, FilteringMethod.ALL_EMAIL, IncomingDeliveryMethod.SERVER_SIDE_SYNC),
        BOB.id: Acceptor(BOB, FilteringMethod.ALL_EMAIL, IncomingDeliveryMethod.FORWARD_MAILBOX),
    }
    assert run(SENDER_CONTACT, [party(ALICE), party(BOB)], table, owner=None, forward=True) == (Reason.ACCEPT_ALL, BOB)
    assert run(SENDER_CONTACT, [party(ALICE)], table, owner=None, forward=True)[0] is Reason.NO_CORRELATION_MATCH


# --- Sent Items (R-IN-5): the same filtering method, applied to the recipients -------------------------
def sent(method: FilteringMethod, recipients: list[ActivityParty], *, correlated: bool = False) -> Reason:
    return accept_sent(owner=Acceptor(ALICE, method), recipients=recipients, correlated=correlated).reason


def test_sent_items_of_an_all_email_user_are_tracked() -> None:
    assert sent(FilteringMethod.ALL_EMAIL, [party(None)]) is Reason.ACCEPT_ALL


def test_sent_items_to_a_contact_match_the_customer_filter() -> None:
    assert sent(FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS, [party(CONTACT)]) is Reason.SENDER_MATCH


def test_sent_items_to_colleagues_only_do_not_match_the_customer_filter() -> None:
    assert sent(FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS, [party(BOB)]) is Reason.NO_CORRELATION_MATCH


def test_sent_items_need_a_correlation_under_the_responses_filter() -> None:
    assert sent(FilteringMethod.RESPONSES_TO_CRM_EMAIL, [party(CONTACT)]) is Reason.NO_CORRELATION_MATCH
    assert sent(FilteringMethod.RESPONSES_TO_CRM_EMAIL, [party(CONTACT)], correlated=True) is Reason.CORRELATION_MATCH


def test_sent_items_without_an_owner_acceptor_are_not_tracked() -> None:
    assert accept_sent(owner=None, recipients=[party(CONTACT)], correlated=True).reason is Reason.NO_RECIPIENT_MATCH
