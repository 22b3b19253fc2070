"""Shared pieces of the EWS test server's own tests: test mail and an exchangelib account for Alice."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from exchangelib import Account

ALICE = "alice@example.test"
BOB = "bob@example.test"


def mime(tag: str, *, to: str = ALICE, sender: str = BOB, subject: str | None = None) -> bytes:
    """A small RFC 5322 message whose Message-ID is ``<{tag}@example.test>``."""
    return (
        f"From: Sender <{sender}>\r\nTo: {to}\r\nSubject: {subject or f'Message {tag}'}\r\n"
        f"Message-ID: <{tag}@example.test>\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of {tag}\r\n"
    ).encode()


@pytest.fixture
def alice(ews_account: Callable[..., Account]) -> Account:
    return ews_account(ALICE)
