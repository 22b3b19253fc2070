"""How important the sender marked a message, whichever header says it."""

from __future__ import annotations

import pytest

from sync.mail.importance import importance


def _headers(**values: str) -> dict[str, str]:
    return {name.replace("_", "-").lower(): value for name, value in values.items()}


def _of(**values: str) -> str | None:
    found = _headers(**values)
    return importance(lambda name: found.get(name.lower()))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Importance": "High"}, "high"),
        ({"Importance": "low"}, "low"),
        ({"X_Priority": "1 (Highest)"}, "high"),
        ({"X_Priority": "2"}, "high"),
        ({"X_Priority": "3 (Normal)"}, "normal"),
        ({"X_Priority": "5 (Lowest)"}, "low"),
        ({"X_MSMail_Priority": "High"}, "high"),
        ({"Priority": "urgent"}, "high"),
        ({"Priority": "non-urgent"}, "low"),
    ],
)
def test_each_header_a_client_writes_is_understood(headers: dict[str, str], expected: str) -> None:
    assert _of(**headers) == expected


def test_importance_decides_before_x_priority() -> None:
    assert _of(Importance="low", X_Priority="1") == "low"


def test_a_value_not_understood_gives_way_to_the_next_header() -> None:
    assert _of(Importance="very", X_Priority="9", X_MSMail_Priority="Low") == "low"


def test_a_message_that_says_nothing_has_no_importance() -> None:
    assert _of() is None
    assert _of(Importance="", X_Priority="(none)") is None
