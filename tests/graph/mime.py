"""What Exchange reads out of a message's MIME headers, and the MIME it writes for a JSON message.

Graph derives ``internetMessageId``, ``subject``, ``from`` and ``toRecipients`` from the stored item; the test
server stores MIME bytes and reads these fields from the headers once, when the message arrives.
"""

from __future__ import annotations

import datetime
import email.utils
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any

from tests.graph.api import ApiError

GENERATED_ID_DOMAIN = "graph.test"  # Exchange names its own Message-IDs after the sending server
CUSTOM_HEADER_PREFIX = "x-"  # Graph accepts only custom headers in internetMessageHeaders


@dataclass(frozen=True)
class Address:
    name: str
    address: str


@dataclass(frozen=True)
class Envelope:
    internet_message_id: str | None
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    sent: datetime.datetime | None


def envelope(mime: bytes) -> Envelope:
    """The header fields Graph reports; a header that does not parse is left out rather than failing delivery."""
    headers = BytesHeaderParser(policy=default).parsebytes(mime)
    senders = _addresses(headers, "from")
    return Envelope(
        internet_message_id=_text(headers, "message-id"),
        subject=_text(headers, "subject") or "",
        sender=senders[0] if senders else None,
        to=_addresses(headers, "to"),
        sent=_date(headers),
    )


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{GENERATED_ID_DOMAIN}>"


def with_message_id(mime: bytes) -> bytes:
    """Exchange gives a submitted message without a Message-ID one of its own, prepended like a trace header."""
    if envelope(mime).internet_message_id:
        return mime
    return f"Message-ID: {new_message_id()}\r\n".encode() + mime


def compose(sender: str, message: Mapping[str, Any]) -> bytes:
    """MIME for a JSON ``message`` resource, as Exchange would write it when the draft is saved."""
    out = EmailMessage()
    out["From"] = sender
    for field, header in (("toRecipients", "To"), ("ccRecipients", "Cc"), ("bccRecipients", "Bcc")):
        recipients = [_recipient(item) for item in message.get(field) or []]
        if recipients:
            out[header] = ", ".join(recipients)
    out["Subject"] = str(message.get("subject") or "")
    out["Date"] = email.utils.format_datetime(datetime.datetime.now(datetime.UTC))
    out["Message-ID"] = str(message.get("internetMessageId") or new_message_id())
    for custom in _custom_headers(message.get("internetMessageHeaders") or []):
        out[custom["name"]] = custom["value"]
    body = message.get("body") or {}
    subtype = "html" if str(body.get("contentType", "text")).lower() == "html" else "plain"
    out.set_content(str(body.get("content") or ""), subtype=subtype)
    return out.as_bytes()


def _custom_headers(headers: Sequence[Mapping[str, str]]) -> Sequence[Mapping[str, str]]:
    for header in headers:
        if not str(header.get("name", "")).lower().startswith(CUSTOM_HEADER_PREFIX):
            raise ApiError(
                400,
                "InvalidInternetMessageHeader",
                f"The internet message header name '{header.get('name')}' should start with 'x-' or 'X-'.",
            )
    return headers


def _recipient(item: Mapping[str, Any]) -> str:
    address = item.get("emailAddress") or {}
    return email.utils.formataddr((str(address.get("name") or ""), str(address.get("address") or "")))


def _text(headers: Any, name: str) -> str | None:
    try:
        value = headers.get(name)
    except (ValueError, IndexError, TypeError):
        return None
    return str(value).strip() if value is not None else None


def _addresses(headers: Any, name: str) -> tuple[Address, ...]:
    try:
        value = headers.get(name)
        found = getattr(value, "addresses", ()) if value is not None else ()
        return tuple(Address(a.display_name, a.addr_spec) for a in found)
    except (ValueError, IndexError, TypeError):
        return ()


def _date(headers: Any) -> datetime.datetime | None:
    try:
        value = headers.get("date")
        moment = getattr(value, "datetime", None)
    except (ValueError, IndexError, TypeError):
        return None
    if not isinstance(moment, datetime.datetime):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
