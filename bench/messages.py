"""Deterministic synthetic mail for benchmarks: 5-50 KB messages, a share of them with attachments."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

WORDS = [
    "account",
    "order",
    "quote",
    "invoice",
    "meeting",
    "delivery",
    "contract",
    "renewal",
    "support",
    "ticket",
    "price",
    "discount",
]


def generate(n: int, *, to: str, senders: list[str], seed: int = 7, attachment_share: float = 0.1) -> Iterator[bytes]:
    """Yields the messages one at a time, so memory does not grow with ``n``."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = rng.choice(senders)
        msg["To"] = to
        msg["Subject"] = " ".join(rng.choice(WORDS) for _ in range(5)).capitalize()
        msg["Date"] = format_datetime(start + timedelta(minutes=i))
        msg["Message-ID"] = make_msgid(idstring=f"bench{i}", domain="bench.test")
        size = rng.randint(5_000, 50_000)
        body = " ".join(rng.choice(WORDS) for _ in range(size // 8))
        msg.set_content(body[: int(size * 0.8)] if rng.random() < attachment_share else body[:size])
        if rng.random() < attachment_share:
            msg.add_attachment(rng.randbytes(size // 5), maintype="application", subtype="pdf", filename=f"doc{i}.pdf")
        yield msg.as_bytes()
