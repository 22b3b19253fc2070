"""Tracking reasons in words (sync/insights/reason_words.py)."""

from __future__ import annotations

from sync.incoming.reasons import Reason
from sync.insights.reason_words import WORDS, reason_words


def test_every_reason_has_words() -> None:
    assert set(WORDS) == set(Reason)


def test_a_code_name_reads_as_words() -> None:
    assert reason_words("InvalidSender") == "No valid From address"


def test_an_unknown_code_name_is_shown_as_it_is() -> None:
    assert reason_words("SomethingNewer") == "SomethingNewer"
