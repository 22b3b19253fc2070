"""The way back from a console-started consent and its words: a fixed vocabulary, nothing secret, nothing made up."""

from __future__ import annotations

from sync.auth.consent_flow import ConsentFailure
from sync.console.consent_outcome import message, return_path


def test_a_recorded_consent_goes_back_with_one_word() -> None:
    assert return_path("m-1", None) == "/console/mailboxes/m-1?consent=recorded"
    said = message("recorded")
    assert said is not None and said.ok and "Test & Enable" in said.text


def test_the_providers_error_code_is_kept_only_when_it_is_a_known_one() -> None:
    assert return_path("m-1", ConsentFailure.DENIED, "access_denied").endswith(
        "consent=denied&provider_error=access_denied"
    )
    assert return_path("m-1", ConsentFailure.DENIED, "<b>x</b>").endswith("provider_error=other")


def test_a_refusal_is_said_in_words_with_its_code() -> None:
    said = message("denied", "access_denied")
    assert said is not None and not said.ok
    assert "refused access" in said.text and "(access_denied)" in said.text


def test_every_failure_a_console_consent_can_end_with_has_words() -> None:
    for failure in ConsentFailure:
        if failure is not ConsentFailure.UNKNOWN:  # an unknown state names no mailbox to go back to
            said = message(failure.value)
            assert said is not None and not said.ok, failure


def test_a_made_up_outcome_says_nothing() -> None:
    assert message("Your account is locked") is None
    assert message("unknown") is None
