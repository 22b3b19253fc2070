"""The MIME message of an outgoing email activity — pure: the email in, bytes and an envelope out.

Headers are built with the ``email`` package only (ARCHITECTURE §5), never by string concatenation:

- subjects, display names and file names are made single-line first (every control character and
  Unicode line or paragraph separator becomes a space), so a hostile value cannot start a header;
- ``=?`` gets an invisible WORD JOINER after the ``=``: the ``email`` package decodes RFC 2047 encoded
  words it finds in a value, and before Python 3.11.10 it wrote a decoded CR/LF out raw (CVE-2024-6923),
  so ``=?utf-8?q?=0D=0ABcc:_x?=`` would have become a header;
- addresses are checked (one ``@``, no spaces or control characters) and refused if bad; a domain is
  IDNA-encoded; a non-ASCII local part marks the message as needing SMTPUTF8;
- In-Reply-To and References keep only plain ``<id@domain>`` values;
- last, the header names of the bytes produced are compared with the ones set: any difference refuses
  the message instead of sending it.

The body is ``multipart/alternative`` (the plain text, derived from the HTML when none was written, and
the HTML; see :mod:`sync.outgoing.html_text`), inline images are ``related`` to the HTML, attachments
make it ``multipart/mixed``. Bodies are 7-bit (quoted-printable or base64) with CRLF line endings, so any
SMTP server takes them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import format_datetime

from sync.errors import SyncError
from sync.model.address_syntax import InvalidAddress, canonical_mailbox
from sync.model.email import ActivityParty, Email
from sync.model.options import ParticipationType, Priority
from sync.outgoing.html_text import html_to_text
from sync.outgoing.tokens import subject_with_token

MAX_REFERENCES = 32  # Odoo keeps the last 32: longer chains only slow everyone down
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
ENCODED_WORD_START = "=?"
WORD_JOINER = "\u2060"  # invisible; keeps "=?" from ever being read as the start of an encoded word
_MSG_ID = re.compile(r"^<[A-Za-z0-9!#$%&'*+/^_`{|}~.\-]+@[A-Za-z0-9.\-]+>$")
_CONTENT_ID = re.compile(r"^[A-Za-z0-9$+._\-]+@?[A-Za-z0-9.\-]*$")
_CONTENT_TYPE = re.compile(r"^([a-z0-9!#$&^_.+-]+)/([a-z0-9!#$&^_.+-]+)$")
_MIME_HEADERS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})
_PRIORITY_HEADERS = {Priority.HIGH: ("high", "1"), Priority.LOW: ("low", "5")}


class _CachedHeaderRegistry(HeaderRegistry):
    """The standard registry, but each header class is built once: Python 3.11 builds a new class per
    header set or parsed (``type(...)`` in ``__getitem__``), a third of the cost of composing a message."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls


_HEADERS = _CachedHeaderRegistry()
SEVEN_BIT = policy.SMTP.clone(cte_type="7bit", header_factory=_HEADERS)  # RFC 2047 headers, qp/base64 bodies, CRLF
SEVEN_BIT_UTF8 = policy.SMTPUTF8.clone(cte_type="7bit", header_factory=_HEADERS)  # with UTF-8 headers (RFC 6532)


class ComposeError(SyncError):
    """The email cannot become a message (no sender, a malformed address): sending it again will not help."""

    code = "InvalidEmailContent"


@dataclass(frozen=True)
class AttachmentData:
    file_name: str
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True)
class Composed:
    mail_from: str
    recipients: tuple[str, ...]  # To, Cc and Bcc, each address once, in that order
    data: bytes
    smtputf8: bool
    subject: str  # as sent, with the tracking token
    bcc: tuple[str, ...] = ()  # the Bcc addresses (not in ``data``): Exchange takes them as a Bcc header


def one_line(text: str | None) -> str:
    """``text`` on one line: control characters and line separators become single spaces."""
    return _BREAKS.sub(" ", text or "").strip()


def header_text(text: str | None) -> str:
    """``text`` safe as (part of) a header value: one line, and no encoded word for the parser to decode."""
    return one_line(text).replace(ENCODED_WORD_START, "=" + WORD_JOINER + "?")


def mail_address(address: str | None) -> str:
    """A checked mailbox (``sync.model.address_syntax``) with an IDNA domain; ComposeError when it is not one."""
    value = (address or "").strip()
    if ENCODED_WORD_START in value:  # valid atext, but a header parser would decode it into something else
        raise ComposeError(f"not a usable email address: {one_line(value)[:80]!r}")
    try:
        return canonical_mailbox(value)
    except InvalidAddress as exc:
        raise ComposeError(f"{exc}: {one_line(value)[:80]!r}") from None


def needs_smtputf8(address: str) -> bool:
    """A non-ASCII local part can only travel with SMTPUTF8 (RFC 6531); domains are IDNA-encoded instead."""
    return not address.rpartition("@")[0].isascii()


def message_id_for(email_id: str, sender_address: str) -> str:
    """The Message-ID of an email activity: its id at the sender's domain (stable across retries)."""
    try:
        domain = mail_address(sender_address).rpartition("@")[2]
    except ComposeError:
        domain = "localhost"
    return f"<{email_id}@{domain}>"


def compose(
    email: Email,
    *,
    html: str | None,
    attachments: Sequence[AttachmentData] = (),
    subject_limit: int,
    sent_on: datetime,
) -> Composed:
    """The message of ``email`` as it goes on the wire; ``html`` is its body (read from the row or Blob)."""
    if not email.message_id or not _MSG_ID.match(email.message_id):
        raise ComposeError("the email has no valid Message-ID: it is assigned when the email is sent")
    senders = email.parties_of(ParticipationType.SENDER)
    if not senders:
        raise ComposeError("the email has no sender")
    sender_address = mail_address(senders[0].address_used)
    on_behalf = _on_behalf(email, sender_address)
    listed, recipients = _recipients(email)
    shown = {a.addr_spec.casefold() for header in listed.values() for a in header}
    addresses = [sender_address, *recipients, *([on_behalf[1]] if on_behalf else [])]
    utf8 = any(needs_smtputf8(address) for address in addresses)

    msg = EmailMessage(policy=SEVEN_BIT_UTF8 if utf8 else SEVEN_BIT)
    msg["From"] = _address(senders[0], sender_address)
    if on_behalf is not None:
        msg["Sender"] = _address(*on_behalf)
    msg["To"] = listed["To"] or "undisclosed-recipients:;"
    if listed["Cc"]:
        msg["Cc"] = listed["Cc"]
    subject = subject_with_token(header_text(email.subject), email.tracking_token, subject_limit)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sent_on)
    msg["Message-ID"] = email.message_id
    _thread_and_priority(msg, email)
    expected = [name.lower() for name in msg]
    _body(msg, email.text_body, html, attachments)
    data = msg.as_bytes()
    _check_headers(data, expected)
    bcc = tuple(a for a in recipients if a.casefold() not in shown)
    return Composed(sender_address, tuple(recipients), data, utf8, subject, bcc)


def _on_behalf(email: Email, sender_address: str) -> tuple[ActivityParty, str] | None:
    """The acting user when it is not the From party: it goes in ``Sender`` (a queue's email, send on behalf)."""
    owner = next(iter(email.parties_of(ParticipationType.OWNER)), None)
    if owner is None or not owner.address_used:
        return None
    address = mail_address(owner.address_used)
    return (owner, address) if address.casefold() != sender_address.casefold() else None


def _recipients(email: Email) -> tuple[dict[str, list[Address]], list[str]]:
    """The To and Cc headers, and every envelope address (Bcc too) once, in order."""
    listed: dict[str, list[Address]] = {"To": [], "Cc": []}
    seen: dict[str, str] = {}
    for participation, header in (
        (ParticipationType.TO_RECIPIENT, "To"),
        (ParticipationType.CC_RECIPIENT, "Cc"),
        (ParticipationType.BCC_RECIPIENT, None),
    ):
        for party in email.parties_of(participation):
            address = mail_address(party.address_used)
            if address.casefold() in seen:
                continue
            seen[address.casefold()] = address
            if header is not None:
                listed[header].append(_address(party, address))
    if not seen:
        raise ComposeError("the email has no recipients")
    return listed, list(seen.values())


def _thread_and_priority(msg: EmailMessage, email: Email) -> None:
    if email.in_reply_to and _MSG_ID.match(email.in_reply_to):
        msg["In-Reply-To"] = email.in_reply_to
    references = [r for r in email.references if _MSG_ID.match(r)][-MAX_REFERENCES:]
    if references:
        msg["References"] = " ".join(references)
    if email.priority in _PRIORITY_HEADERS:
        importance, x_priority = _PRIORITY_HEADERS[email.priority]
        msg["Importance"] = importance
        msg["X-Priority"] = x_priority


def _check_headers(data: bytes, expected: list[str]) -> None:
    """Defence in depth: the top-level headers written are exactly the ones set, plus the MIME ones."""
    written = [name.lower() for name in BytesHeaderParser(policy=compat32).parsebytes(data)]
    if [name for name in written if name not in _MIME_HEADERS] != expected:
        raise ComposeError("the message headers do not come out as they were set; not sending it")


def _address(party: ActivityParty, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    name = header_text(party.display_name or party.unresolved_party_name)
    return Address(display_name=name, username=local, domain=domain)


def _body(msg: EmailMessage, text: str | None, html: str | None, attachments: Sequence[AttachmentData]) -> None:
    plain = text if text is not None else (html_to_text(html) if html else "")
    msg.set_content(plain)
    inline = [a for a in attachments if a.inline and html and a.content_id and _CONTENT_ID.match(a.content_id)]
    if html:
        msg.add_alternative(html, subtype="html")
        html_part = msg.get_body(("html",))
        assert isinstance(html_part, EmailMessage)
        for attachment in inline:
            maintype, subtype = _content_type(attachment.content_type)
            html_part.add_related(
                attachment.data,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{attachment.content_id}>",
                filename=header_text(attachment.file_name) or None,
            )
    for attachment in attachments:
        if attachment in inline:
            continue
        maintype, subtype = _content_type(attachment.content_type)
        name = header_text(attachment.file_name) or "attachment"
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=name)


def _content_type(value: str) -> tuple[str, str]:
    match = _CONTENT_TYPE.match(one_line(value).split(";", 1)[0].strip().lower())
    return (match.group(1), match.group(2)) if match else ("application", "octet-stream")
