"""Tracking tokens (R-COR-8..14): their shape, the counters, and the 255-character subject rule."""

import pytest

from sync.incoming.correlate import token_pattern, tracking_tokens
from sync.model import OrganizationSettings
from sync.outgoing.tokens import format_token, subject_with_token, take_counter, take_user_sequence

ORG = OrganizationSettings()


def test_the_default_shape_is_prefix_colon_and_seven_digits() -> None:
    assert format_token(ORG, 1, 1) == "CRM:0001001"  # online digit 0, user 001, counter 001 (N-22)
    assert format_token(ORG, 10, 1) == "CRM:0010001"


def test_the_base_offsets_user_numbers() -> None:
    assert format_token(OrganizationSettings(tracking_token_id_base=500), 1, 7) == "CRM:0501007"  # R-COR-11


def test_digits_follow_the_organization() -> None:
    org = OrganizationSettings(tracking_prefix="TKT", tracking_token_id_digits=5, tracking_counter_digits=4)
    assert format_token(org, 42, 9) == "TKT:0000420009"


def test_numbers_wider_than_their_digits_keep_the_low_digits() -> None:
    assert format_token(ORG, 1234, 5678) == "CRM:0234678"


def test_the_counter_wraps_after_all_nines() -> None:
    org = OrganizationSettings(next_tracking_number=998)
    assert [take_counter(org) for _ in range(3)] == [998, 999, 0]  # R-COR-12
    assert org.next_tracking_number == 1


def test_user_sequences_are_handed_out_once_each() -> None:
    org = OrganizationSettings()
    assert [take_user_sequence(org) for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize("org", [ORG, OrganizationSettings(tracking_token_id_digits=10, tracking_counter_digits=9)])
def test_the_incoming_pipeline_finds_every_generated_token(org: OrganizationSettings) -> None:
    token = format_token(org, 7, 123)
    assert token_pattern(org).fullmatch(token)
    assert tracking_tokens(f"RE: {subject_with_token('Quote', token, 255)}", org) == [token]


def test_the_token_goes_at_the_end() -> None:
    assert subject_with_token("Your quote", "CRM:0001001", 255) == "Your quote CRM:0001001"  # R-COR-13


def test_no_token_leaves_the_subject_within_the_limit() -> None:
    assert subject_with_token("x" * 300, None, 255) == "x" * 255


def test_a_long_subject_is_cut_so_subject_and_token_fit_exactly() -> None:
    sent = subject_with_token("x" * 800, "CRM:0001001", 255)
    assert len(sent) == 255 and sent == "x" * 243 + " CRM:0001001"  # N-23


def test_a_subject_that_just_fits_is_not_cut() -> None:
    subject = "y" * 243
    assert subject_with_token(subject, "CRM:0001001", 255) == subject + " CRM:0001001"
    assert subject_with_token(subject + "z", "CRM:0001001", 255) == subject + " CRM:0001001"


def test_a_token_as_long_as_the_limit_is_left_out_and_the_subject_cut() -> None:
    assert subject_with_token("Hello world", "CRM:0001001", 11) == "Hello world"  # R-COR-14
    assert subject_with_token("Hello world", "CRM:0001001", 5) == "Hello"


def test_a_token_that_leaves_no_room_stands_alone() -> None:
    assert subject_with_token("Hello", "CRM:0001001", 12) == "CRM:0001001"


def test_an_empty_subject_is_just_the_token() -> None:
    assert subject_with_token("", "CRM:0001001", 255) == "CRM:0001001"


def test_a_resend_does_not_add_the_token_twice() -> None:
    assert subject_with_token("Quote CRM:0001001", "CRM:0001001", 255) == "Quote CRM:0001001"
    assert subject_with_token("Quote crm:0001001 ", "CRM:0001001", 255) == "Quote CRM:0001001"


def test_cutting_never_leaves_a_space_before_the_separator() -> None:
    assert subject_with_token("ab   " + "c" * 300, "CRM:0001001", 16) == "ab CRM:0001001"
