"""The key that identifies one message across mailboxes (R-ACC-10): its Message-ID.

Message-IDs are compared without angle brackets and surrounding space; the domain part is case-folded
(RFC 5322 leaves the local part case-sensitive).

A message without a Message-ID is keyed by its *content*: the headers its author wrote
(:data:`ORIGIN_HEADERS`) and its body. Hashing the raw bytes tracked the same message again whenever a
server had added or rewritten a trace header (``Received``, ``Return-Path``, ``Delivered-To``, the mbox
``X-UID``/``Status``/``X-IMAPbase``, ``Content-Length``...) or changed its line endings: a positive list
stays stable whatever header a server invents, where a deny-list never ends. Header values are unfolded
and their white space collapsed; body lines lose their line ending and trailing white space, and trailing
empty lines are dropped (transports and stores differ in exactly those).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from email.parser import BytesHeaderParser
from email.policy import compat32

# What the author's client wrote and no server on the way rewrites: who, to whom, when, what, in reply
# to what, and how the body is encoded (the body hash means nothing without it).
ORIGIN_HEADERS = (
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "date",
    "subject",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)
CONTENT_KEY_PREFIX = "content:"
_LINE_END = re.compile(rb"\r\n|\r|\n")
_SPACE = re.compile(r"\s+")
_FIELD_SEPARATOR = b"\x1e"
_VALUE_SEPARATOR = b"\x1f"
_BODY_SEPARATOR = b"\x1d"


def normalize_message_id(message_id: str | None) -> str | None:
    if not message_id:
        return None
    value = message_id.strip().strip("<>").strip()
    if not value:
        return None
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def message_key(message_id: str | None, raw: bytes) -> str:
    """``mid:<id>`` for a message with a Message-ID (stored emails depend on it), else its content key."""
    normalized = normalize_message_id(message_id)
    if normalized:
        return "mid:" + normalized
    return CONTENT_KEY_PREFIX + hashlib.sha256(canonical_content(raw)).hexdigest()


def canonical_content(raw: bytes) -> bytes:
    """The origin headers and the body of ``raw`` in one canonical form: what the content key hashes."""
    lines = _LINE_END.split(raw)
    try:
        blank = lines.index(b"")
    except ValueError:  # headers only
        blank = len(lines)
    header_block = b"\n".join(lines[:blank]) + b"\n\n"
    headers = BytesHeaderParser(policy=compat32).parsebytes(header_block)
    values: dict[str, list[bytes]] = {name: [] for name in ORIGIN_HEADERS}
    for name, value in headers.raw_items():  # as written: 8-bit bytes survive as surrogate escapes
        if name.lower() in values:
            unfolded = _SPACE.sub(" ", value).strip()
            values[name.lower()].append(unfolded.encode("utf-8", "surrogateescape"))
    fields = [name.encode("ascii") + b":" + _VALUE_SEPARATOR.join(found) for name, found in values.items()]
    body = [line.rstrip(b" \t") for line in lines[blank + 1 :]]
    while body and not body[-1]:
        body.pop()
    return _FIELD_SEPARATOR.join(fields) + _BODY_SEPARATOR + b"\n".join(body)


_EMAIL_NAMESPACE = uuid.UUID("0b5c3f7e-4a2d-4f0e-9d61-2e8b7a9c1d44")


def email_id_for(key: str) -> str:
    """The id of the email a received message becomes: one message, one possible email row."""
    return str(uuid.uuid5(_EMAIL_NAMESPACE, key))
