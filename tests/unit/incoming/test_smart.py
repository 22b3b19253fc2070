from datetime import UTC, datetime, timedelta

from sync.incoming.correlate import Candidates, correlate
from sync.incoming.smart import address_hashes, smart_match, subject_hashes, subject_signature
from sync.model.lookups import EmailSummary, SmartCandidate
from sync.model.options import CorrelationMethod
from sync.model.organization import OrganizationSettings

ORG = OrganizationSettings(enable_smart_matching=True)
NOW = datetime(2026, 11, 24, tzinfo=UTC)
A = EmailSummary(email_id="a")


def test_reply_prefixes_tokens_and_case_do_not_change_the_signature() -> None:
    assert subject_signature("RE: FW: Pricing for Contoso CRM:0010001", ORG) == subject_signature(
        "pricing FOR contoso", ORG
    )


def test_other_words_change_the_signature() -> None:
    assert subject_signature("Pricing for Contoso", ORG) != subject_signature("Pricing for Fabrikam", ORG)


def test_a_subject_without_words_has_no_signature() -> None:
    assert subject_signature("RE: ", ORG) is None


def test_hash_counts_are_capped() -> None:
    org = OrganizationSettings(hash_max_count=3)
    assert len(subject_hashes("one two three four five", org)) == 3
    assert len(address_hashes([f"u{n}@x" for n in range(10)], org)) == 3


def test_addresses_compare_case_insensitively() -> None:
    assert address_hashes(["Carol@Fabrikam.test"], ORG) == address_hashes(["carol@fabrikam.test"], ORG)


def test_enough_shared_addresses_match() -> None:
    own = address_hashes(["carol@f.test", "ann@x.test"], ORG)
    candidate = SmartCandidate(A, address_hashes(["carol@f.test", "ann@x.test", "bob@x.test"], ORG), NOW)
    assert smart_match(own, [candidate], ORG, NOW) == A


def test_one_shared_address_is_not_enough() -> None:
    own = address_hashes(["carol@f.test", "zed@x.test"], ORG)
    candidate = SmartCandidate(A, address_hashes(["carol@f.test", "ann@x.test"], ORG), NOW)
    assert smart_match(own, [candidate], ORG, NOW) is None


def test_only_the_last_90_days_count() -> None:
    hashes = address_hashes(["carol@f.test", "ann@x.test"], ORG)
    old = SmartCandidate(A, hashes, NOW - timedelta(days=91))
    assert smart_match(hashes, [old], ORG, NOW) is None


def test_smart_matching_is_the_last_method_and_only_when_enabled() -> None:
    result = correlate("RE: Pricing", Candidates(by_smart_match=A), ORG)
    assert (result.method, result.parent_activity_id) == (CorrelationMethod.SMART_MATCHING, None)
    assert not correlate("RE: Pricing", Candidates(by_smart_match=A), OrganizationSettings()).correlated
