"""Walk a parsed MIME tree into bodies, attachments and attached messages.

Which part is what (kept simple and written down, so a surprising result can be traced to a rule):

- the first ``text/plain`` and the first ``text/html`` leaf that is neither ``Content-Disposition:
  attachment`` nor named are the bodies; any later such text part is kept as an attachment, never lost;
- an attached ``message/rfc822`` is not descended into: it is kept as an attachment (``.eml``) and its
  bytes are listed in ``embedded_messages`` for forward mailboxes (R-FWD-7);
- ``winmail.dat`` / ``application/ms-tnef`` is replaced by what it contains (see :mod:`sync.mail.tnef`);
- a ``multipart/report; report-type=delivery-status`` or any ``message/delivery-status`` part marks a
  delivery report (the classify stage decides what to do with it).

The walk uses an explicit stack (no recursion), checks the deadline before every part, stops descending
below ``max_nesting`` levels and stops keeping attachment bytes once the byte budget is spent. Past
``max_attachments`` attachments (TNEF contents included) it records a cutoff and stops: the message fails.
"""

from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import re
from dataclasses import dataclass, field
from email.errors import MessageError
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32

from sync.mail import charsets, headers, tnef
from sync.mail.mime_guards import DEFAULT_MAX_ATTACHMENTS, ByteBudget, Cutoff, Deadline, DefectSink
from sync.mail.parsed import ParsedAttachment

# What the stdlib email and codec code raises on malformed input (it has bugs that raise AttributeError,
# TypeError or IndexError on odd structure); one part failing must not lose the rest of the message.
INPUT_ERRORS = (MessageError, ValueError, LookupError, TypeError, AttributeError, RecursionError)

TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
EMBEDDED_TYPES = frozenset({"message/rfc822", "message/global"})
DELIVERY_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_EXTENSIONS = {
    "text/plain": ".txt",
    "text/html": ".html",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "application/octet-stream": ".bin",
    "application/ms-tnef": ".dat",
}
_TYPES = mimetypes.MimeTypes()  # built-in table only: the same answers on every machine
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_GENERATED_NAME = 100  # characters of a subject used to name an attached message
_LINE_END = re.compile(r"\r?\n")


class _AsReceived(Compat32):
    """Writes each header as it was received (original folding, raw 8-bit bytes): faithful and fast,
    where the stdlib re-folds every header through ``email.header.Header`` (2/3 of the time spent)."""

    def fold_binary(self, name: str, value: str) -> bytes:
        return f"{name}: {_LINE_END.sub(self.linesep, str(value))}{self.linesep}".encode("utf-8", "surrogateescape")


_AS_RECEIVED = _AsReceived(linesep="\r\n")


@dataclass
class WalkResult:
    """What the walk found; the parser turns it into a ParsedMessage."""

    text_body: str | None = None
    html_body: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    embedded_messages: list[bytes] = field(default_factory=list)
    is_delivery_report: bool = False


def extension_for(content_type: str) -> str:
    return _EXTENSIONS.get(content_type) or _TYPES.guess_extension(content_type) or ".bin"


def type_for(file_name: str | None) -> str:
    """A MIME type guessed from a file name (TNEF attachments often carry none)."""
    guessed = _TYPES.guess_type(file_name)[0] if file_name else None
    return guessed or "application/octet-stream"


def clean_file_name(name: str | None, defects: DefectSink) -> str | None:
    """A decoded file name without directories or control characters; None when nothing is left."""
    if not name:
        return None
    name = headers.decode_words(headers.fix_8bit(name), defects)
    name = _CONTROL.sub("", name)
    name = re.split(r"[\\/]", name)[-1].strip()
    return None if name in ("", ".", "..") else name


def is_delivery_report_type(message: Message) -> bool:
    """``multipart/report; report-type=delivery-status`` (RFC 3464) at the top of a message."""
    if message.get_content_type() != "multipart/report":
        return False
    report_type = message.get_param("report-type")
    return isinstance(report_type, str) and report_type.strip().lower() == "delivery-status"


def serialize(message: Message) -> bytes:
    """A parsed message back to bytes with CRLF line ends: the original's content, not byte-exact."""
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_AS_RECEIVED).flatten(message)
    return out.getvalue()


class _Walker:
    def __init__(
        self, deadline: Deadline, budget: ByteBudget, max_nesting: int, defects: DefectSink, cutoff: Cutoff,
        max_attachments: int,
    ) -> None:  # fmt: skip
        self.deadline = deadline
        self.budget = budget
        self.max_nesting = max_nesting
        self.defects = defects
        self.cutoff = cutoff
        self.max_attachments = max_attachments
        self.result = WalkResult()

    def walk(self, root: Message) -> WalkResult:
        self.result.is_delivery_report = is_delivery_report_type(root)
        stack: list[tuple[Message, int]] = [(root, 0)]
        while stack and self.cutoff.reason is None:
            if self.deadline.expired():
                self.defects.append("parse timeout")
                break
            part, depth = stack.pop()
            try:
                children = self.visit(part, depth)
            except INPUT_ERRORS as exc:
                self.defects.append(f"unreadable part ({part.get_content_type()}): {type(exc).__name__}: {exc}")
                continue
            finally:
                for defect in part.defects:
                    self.defects.append(type(defect).__name__)
            stack.extend((child, depth + 1) for child in reversed(children))
        return self.result

    def visit(self, part: Message, depth: int) -> list[Message]:
        """Record one part; returns the children still to walk."""
        content_type = part.get_content_type()
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            if depth >= self.max_nesting:
                self.defects.append(f"nesting too deep: more than {self.max_nesting} levels, rest skipped")
                return []
            return [child for child in payload if isinstance(child, Message)]
        if content_type in DELIVERY_STATUS_TYPES:
            self.result.is_delivery_report = True
        if isinstance(payload, list):  # message/* parsed into sub-messages
            self.attach_message(part, content_type, [m for m in payload if isinstance(m, Message)])
            return []
        # A multipart without a usable boundary arrives as one text: read it as plain text.
        body_type = "text/plain" if part.get_content_maintype() == "multipart" else content_type
        if body_type in ("text/plain", "text/html") and self.is_body(part, body_type):
            self.set_body(part, body_type)
            return []
        self.attach_leaf(part, content_type)
        return []

    def is_body(self, part: Message, body_type: str) -> bool:
        if part.get_content_disposition() == "attachment" or part.get_filename() is not None:
            return False
        current = self.result.text_body if body_type == "text/plain" else self.result.html_body
        return current is None

    def set_body(self, part: Message, content_type: str) -> None:
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else b""
        text, defect = charsets.decode(raw, part.get_content_charset())
        if defect:
            self.defects.append(defect)
        if content_type == "text/plain":
            self.result.text_body = text
        else:
            self.result.html_body = text

    def attach_message(self, part: Message, content_type: str, messages: list[Message]) -> None:
        """Keep a message/* part as bytes (delivery-status parses into one message per field block)."""
        if not messages:
            return
        raw = b"".join(serialize(message) for message in messages)
        encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if encoding in ("base64", "quoted-printable"):  # not allowed on message/*, but sent anyway
            raw = self.undo_transfer_encoding(raw, encoding)
        name = clean_file_name(part.get_filename(), self.defects)
        if content_type in EMBEDDED_TYPES:
            name = name or self.name_from_subject(messages[0])
            self.result.embedded_messages.append(raw)
        self.add(part, content_type, raw, name)

    def name_from_subject(self, message: Message) -> str | None:
        """``<subject>.eml``, as Outlook names an attached item; None without a subject."""
        subject = headers.text(str(message.get("Subject", "")), self.defects)
        subject = re.sub(r"[\\/:*?\"<>|]", "_", subject)[:_MAX_GENERATED_NAME].strip()
        return f"{subject}.eml" if subject else None

    def undo_transfer_encoding(self, raw: bytes, encoding: str) -> bytes:
        """The message under a base64/QP encoding (the parser read the encoded text as a bare body)."""
        try:
            if encoding == "base64":
                compact = b"".join(raw.split())
                return base64.b64decode(compact + b"=" * (-len(compact) % 4))
            return binascii.a2b_qp(raw)
        except (binascii.Error, ValueError):
            self.defects.append(f"undecodable {encoding} message part")
            return raw

    def attach_leaf(self, part: Message, content_type: str) -> None:
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else b""
        name = clean_file_name(part.get_filename(), self.defects)
        is_tnef = content_type in TNEF_TYPES or (name or "").lower() == "winmail.dat"
        if is_tnef and self.unpack_tnef(raw):
            return
        self.add(part, content_type, raw, name)

    def unpack_tnef(self, raw: bytes) -> bool:
        """Add the attachments a TNEF blob holds; False when it holds nothing usable (keep the blob)."""
        try:
            room = self.max_attachments - len(self.result.attachments)
            content = tnef.unpack(raw, expired=self.deadline.expired, max_attachments=room)
        except tnef.TnefError as exc:
            self.defects.append(f"tnef: {exc}")
            return False
        for defect in content.defects:
            self.defects.append(defect)
        if content.over_attachments:
            self.over_attachments()
            return True
        if not content.attachments and content.text_body is None and content.html_body is None:
            return False
        if self.result.text_body is None and content.text_body is not None:
            self.result.text_body = content.text_body
        if self.result.html_body is None and content.html_body is not None:
            self.result.html_body = content.html_body
        for item in content.attachments:
            name = clean_file_name(item.file_name, self.defects)
            content_type = (item.content_type or type_for(name)).strip().lower()
            self.keep(name, content_type, item.data, item.content_id, item.is_inline)
        return True

    def add(self, part: Message, content_type: str, data: bytes, name: str | None) -> None:
        disposition = part.get_content_disposition()
        content_id = headers.unfold(str(part.get("Content-ID", ""))).strip().strip("<>").strip() or None
        is_inline = disposition == "inline" or (disposition is None and content_id is not None)
        self.keep(name, content_type, data, content_id, is_inline)

    def over_attachments(self) -> None:
        self.cutoff.hit(f"more than {self.max_attachments} attachments")

    def keep(self, name: str | None, content_type: str, data: bytes, content_id: str | None, inline: bool) -> None:
        if len(self.result.attachments) >= self.max_attachments:
            self.over_attachments()
            return
        number = len(self.result.attachments) + 1
        file_name = name or f"attachment-{number}{extension_for(content_type)}"
        if not self.budget.take(len(data)):
            self.defects.append(f"attachments over the size cap: {file_name} ({len(data)} bytes) not kept")
            return
        self.result.attachments.append(
            ParsedAttachment(
                file_name=file_name,
                content_type=content_type,
                size=len(data),
                content_id=content_id,
                is_inline=inline,
                data=data,
            )
        )


def walk(
    root: Message, *, deadline: Deadline, budget: ByteBudget, max_nesting: int, defects: DefectSink,
    cutoff: Cutoff | None = None, max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
) -> WalkResult:  # fmt: skip
    """Bodies, attachments, attached messages and the delivery-report flag of a parsed message."""
    return _Walker(deadline, budget, max_nesting, defects, cutoff or Cutoff(), max_attachments).walk(root)
