"""A password a server echoes is removed from error messages in every form it is likely to come back in."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from sync.mail.transport import REDACTED, redact

PASSWORD = "Sup3r$ecret/+pw"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "echo",
    [
        PASSWORD,
        quote(PASSWORD, safe=""),
        quote_plus(PASSWORD, safe=""),
        _b64(PASSWORD),
        _b64(f"\0alice@example.test\0{PASSWORD}"),  # AUTH PLAIN
        _b64(f"alice@example.test:{PASSWORD}"),  # HTTP Basic
        _b64(f"x{PASSWORD}"),
        _b64(f"xy{PASSWORD}yz"),
    ],
)
def test_every_echo_is_redacted(echo: str) -> None:
    shown = redact(f"535 5.7.8 rejected: {echo} (try again)", PASSWORD)
    assert echo not in shown and REDACTED in shown
    assert PASSWORD not in shown


def test_other_text_is_kept() -> None:
    assert redact("535 5.7.8 Authentication credentials invalid", PASSWORD) == (
        "535 5.7.8 Authentication credentials invalid"
    )
