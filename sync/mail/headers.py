"""Header values as text: unfolding, raw 8-bit bytes, RFC 2047 encoded words, msg-ids and dates.

The parser runs with the ``compat32`` policy, which keeps each header exactly as received (folded,
with raw 8-bit bytes smuggled in as surrogate escapes). Decoding happens here, in linear time and
without raising, because the ``default`` policy's header parser is quadratic on long address lists
and raises ``AttributeError`` on some valid groups (seen in the corpus's delivery reports).
"""

from __future__ import annotations

import binascii
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from sync.mail import charsets
from sync.mail.mime_guards import MAX_HEADER_CHARS, DefectSink

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAK = re.compile(r"[\r\n]+")
# RFC 2047 encoded-word; the charset may carry an RFC 2231 language suffix ("utf-8*en").
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_MSG_ID = re.compile(r"<[^<>\s]*>")


def unfold(value: str) -> str:
    """One logical line: folding removed, stray CR/LF turned into nothing (no header injection)."""
    return _LINE_BREAK.sub("", _FOLD.sub("", value))


def fix_8bit(value: str) -> str:
    """Raw 8-bit header bytes (RFC 6532 UTF-8, or a legacy charset) as real characters."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        return charsets.guess(raw)
    return value


def capped(name: str, value: str, defects: DefectSink) -> str:
    """The value cut at MAX_HEADER_CHARS, noting the cut: a 200 KB header is an attack, not a subject."""
    if len(value) <= MAX_HEADER_CHARS:
        return value
    defects.append(f"header too long: {name} {len(value)} chars > {MAX_HEADER_CHARS}, truncated")
    return value[:MAX_HEADER_CHARS]


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    """The bytes of one encoded word, or None when the encoding is broken."""
    try:
        if encoding in "Qq":
            return binascii.a2b_qp(payload.encode("ascii"), header=True)
        data = payload.encode("ascii")
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def decode_words(value: str, defects: DefectSink) -> str:
    """Decode RFC 2047 encoded words; whitespace between adjacent words goes (RFC 2047 §6.2).

    Consecutive words in the same charset are joined before decoding, because mailers split a
    multi-byte character across two words. A broken word stays as written.
    """
    out: list[str] = []
    pending = b""
    pending_charset: str | None = None
    last_end = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending_charset is not None:
            text, defect = charsets.decode(pending, pending_charset)
            out.append(text)
            if defect:
                defects.append(defect)
        pending, pending_charset = b"", None

    for match in _ENCODED_WORD.finditer(value):
        gap = value[last_end : match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            flush()
            out.append(gap + match.group(0))
            last_end = match.end()
            continue
        adjacent = pending_charset is not None and not gap.strip(" \t")
        if not adjacent:
            flush()
            out.append(gap)
        charset = match.group(1)
        if pending_charset is not None and charset.lower() != pending_charset.lower():
            flush()
        pending_charset = charset
        pending += data
        last_end = match.end()
    flush()
    out.append(value[last_end:])
    return "".join(out)


def text(value: str, defects: DefectSink) -> str:
    """A header as display text: unfolded, 8-bit fixed, encoded words decoded, no CR/LF."""
    return _LINE_BREAK.sub("", decode_words(fix_8bit(unfold(value)), defects)).strip()


def msg_ids(value: str) -> list[str]:
    """Every ``<msg-id>`` in a header; a bare id without brackets counts as one (old mailers)."""
    value = unfold(value)
    found = _MSG_ID.findall(value)
    if found:
        return [m for m in found if len(m) > 2]
    bare = value.strip()
    return [bare] if bare and " " not in bare else []


def date(value: str, defects: DefectSink) -> datetime | None:
    """An aware datetime; a date without zone ("-0000") is taken as UTC; a bad date is a defect."""
    try:
        parsed = parsedate_to_datetime(unfold(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(f"invalid date: {unfold(value)[:80]!r}")
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed
