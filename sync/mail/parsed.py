"""The result of parsing one incoming message: full values, before any column truncation.

This is a parse result, not the stored record: the pipeline maps it to :class:`sync.model.email.Email`
and truncates to the column limits of N-33 there. Text is already decoded (RFC 2047, charsets);
``defects`` says what was odd or skipped, so an operator can tell a clean parse from a best effort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync.mail.addresses import Address
from sync.mail.importance import Importance


@dataclass(frozen=True)
class ParsedAttachment:
    """One attachment (R-REC-5): decoded bytes and what the message said about them.

    ``file_name`` is decoded from RFC 2231 / RFC 2047 and stripped of any directory part; when the
    message gives none, a name is generated from the part's position and type. ``content_id`` has
    no angle brackets, as HTML refers to it (``cid:...``).
    """

    file_name: str
    content_type: str
    size: int
    content_id: str | None
    is_inline: bool
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class ParsedMessage:
    """Headers, bodies and attachments of one message, plus what went wrong while reading it."""

    subject: str
    from_: list[Address]
    sender: list[Address]
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    date: datetime | None
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    thread_index: str | None  # Outlook Thread-Index (base64 conversation index), as received
    thread_topic: str | None
    auto_submitted: str | None
    precedence: str | None
    importance: Importance | None  # as the sender marked it (``importance.py``); None: not marked
    x_auto_response_suppress: str | None
    list_id: str | None
    return_path: str | None
    content_type: str
    selected_headers: dict[str, str]  # kept for customer logic (R-IN-12)
    text_body: str | None
    html_body: str | None
    attachments: list[ParsedAttachment]
    embedded_messages: list[bytes]  # attached message/rfc822 parts, re-serialized (forward mailboxes, R-FWD-7)
    is_delivery_report: bool
    size: int
    defects: list[str]
    headers_only: bool
    cut_short: str | None = None  # the hard limit (a cap or the deadline) that stopped the parse: the item fails


def _addresses(addresses: list[Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in addresses]


def summary(parsed: ParsedMessage) -> dict[str, Any]:
    """A JSON-ready digest of a parse (no bodies, no attachment bytes) for the CLI and logs."""
    return {
        "subject": parsed.subject,
        "from": _addresses(parsed.from_),
        "to": _addresses(parsed.to),
        "cc": _addresses(parsed.cc),
        "date": parsed.date.isoformat() if parsed.date else None,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "content_type": parsed.content_type,
        "size": parsed.size,
        "text_body_chars": len(parsed.text_body) if parsed.text_body is not None else None,
        "html_body_chars": len(parsed.html_body) if parsed.html_body is not None else None,
        "attachments": [
            {"file_name": a.file_name, "content_type": a.content_type, "size": a.size, "is_inline": a.is_inline}
            for a in parsed.attachments
        ],
        "embedded_messages": len(parsed.embedded_messages),
        "is_delivery_report": parsed.is_delivery_report,
        "headers_only": parsed.headers_only,
        "cut_short": parsed.cut_short,
        "defects": parsed.defects,
    }
