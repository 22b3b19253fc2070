from sync.incoming.resolve import resolve_recipients, resolve_sender
from sync.model.lookups import AddressMatch
from sync.model.options import EntityType, ParticipationType
from sync.model.organization import OrganizationSettings

ORG = OrganizationSettings()


def m(
    kind: EntityType, rid: str, *, active: bool = True, disabled: bool = False, owner: str | None = None
) -> AddressMatch:
    return AddressMatch(type=kind, id=rid, column="email_address1", column_number=1, active=active,
                        disabled_user=disabled, owner_user_id=owner)  # fmt: skip


def test_unknown_sender_stays_unresolved_with_address_and_name() -> None:
    result = resolve_sender("x@y.test", "X Y", [], ORG, None)
    assert result.party.party is None
    assert (result.party.address_used, result.party.unresolved_party_name) == ("x@y.test", "X Y")


def test_sender_type_order_user_before_contact_before_lead() -> None:
    matches = [m(EntityType.LEAD, "l"), m(EntityType.CONTACT, "c"), m(EntityType.SYSTEM_USER, "u")]
    assert resolve_sender("a@b", "", matches, ORG, None).party.party.id == "u"  # type: ignore[union-attr]
    assert resolve_sender("a@b", "", matches[:2], ORG, None).party.party.id == "c"  # type: ignore[union-attr]


def test_active_record_wins_over_inactive() -> None:
    matches = [m(EntityType.CONTACT, "old", active=False), m(EntityType.LEAD, "new")]
    assert resolve_sender("a@b", "", matches, ORG, None).party.party.id == "new"  # type: ignore[union-attr]


def test_single_inactive_match_still_resolves() -> None:
    assert resolve_sender("a@b", "", [m(EntityType.CONTACT, "c", active=False)], ORG, None).party.party is not None


def test_record_owned_by_the_tracking_user_wins() -> None:
    matches = [m(EntityType.CONTACT, "theirs", owner="u2"), m(EntityType.CONTACT, "mine", owner="u1")]
    assert resolve_sender("a@b", "", matches, ORG, "u1").party.party.id == "mine"  # type: ignore[union-attr]


def test_disabled_users_never_resolve() -> None:
    assert resolve_sender("a@b", "", [m(EntityType.SYSTEM_USER, "u", disabled=True)], ORG, None).party.party is None


def test_inactive_ignored_when_the_org_says_so() -> None:
    org = OrganizationSettings(resolve_for_inactive_entities=True)
    assert resolve_sender("a@b", "", [m(EntityType.CONTACT, "c", active=False)], org, None).party.party is None


def test_more_than_100_sender_matches_leave_it_unresolved() -> None:
    matches = [m(EntityType.CONTACT, str(n)) for n in range(101)]
    assert resolve_sender("a@b", "", matches, ORG, None).party.party is None
    assert resolve_sender("a@b", "", matches[:100], ORG, None).party.party is not None


def test_multiple_sender_matches_unresolved_when_configured() -> None:
    org = OrganizationSettings(unresolve_sender_in_case_of_multiple_match=True)
    result = resolve_sender("a@b", "", [m(EntityType.CONTACT, "1"), m(EntityType.CONTACT, "2")], org, None)
    assert result.party.party is None and result.duplicate_unresolved


def test_recipients_list_every_match() -> None:
    matches = {"shared@x": [m(EntityType.QUEUE, "q"), m(EntityType.SYSTEM_USER, "u")]}
    parties = resolve_recipients(ParticipationType.TO_RECIPIENT, [("", "Shared@X")], matches, ORG)
    assert [p.party.id for p in parties if p.party] == ["u", "q"]
    assert all(p.participation is ParticipationType.TO_RECIPIENT for p in parties)


def test_recipient_multi_match_unresolved_when_configured() -> None:
    org = OrganizationSettings(unresolve_email_address_if_multiple_match=True)
    matches = {"shared@x": [m(EntityType.QUEUE, "q"), m(EntityType.SYSTEM_USER, "u")]}
    parties = resolve_recipients(ParticipationType.CC_RECIPIENT, [("S", "shared@x")], matches, org)
    assert len(parties) == 1 and parties[0].party is None and parties[0].address_used == "shared@x"


def test_unmatched_and_repeated_recipients() -> None:
    parties = resolve_recipients(ParticipationType.TO_RECIPIENT, [("A", "a@x"), ("A again", "A@x")], {}, ORG)
    assert len(parties) == 1 and parties[0].party is None
