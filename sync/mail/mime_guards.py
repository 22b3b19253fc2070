"""Guards that keep one hostile message from eating a worker's time or memory.

Incoming mail is untrusted input: a message can claim a 4-billion-entry table in 20 bytes, nest
multiparts a thousand deep, or carry a 200 KB subject. The parser checks these guards cooperatively
(between chunks, parts and TNEF attributes) and records a short defect instead of failing, so the
pipeline still gets a best-effort result it can store or quarantine.

Two kinds of guard. Soft ones (a long subject, nesting past ``max_nesting``, attachment bytes past the
budget) trim the result and let the message through. Hard ones bound work the standard library would do
in more than linear time or memory: a parameter header (Content-Type, Content-Disposition) longer than
``MAX_PARAM_HEADER_CHARS`` or with more than ``MAX_HEADER_PARAMS`` parameters (``email.message``
re-slices the value once per parameter: 200,000 RFC 2231 sections took 68 s), more lines than
:func:`max_lines` allows (the feed parser keeps one string object per body line: 100 MB of
quoted-printable soft breaks took 1.2 GB), more MIME parts or attachments than :class:`MimeLimits`
allows, and the deadline. A hard guard records its reason in a :class:`Cutoff` and parsing stops there;
the pipeline turns that message into a failed, quarantined item instead of storing half of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from sync.errors import SyncError

MAX_HEADER_CHARS = 64 * 1024  # a longer single header is pathological; Table Storage strings stop at 64 KiB
MAX_HEADER_BLOCK_BYTES = 1024 * 1024  # header block kept when only headers are parsed (size cap hit)
MAX_DEFECTS = 100  # a broken message can raise a defect per line; the first hundred tell the story
FEED_CHUNK_BYTES = 16 * 1024  # fed in chunks to check the deadline; one chunk at 800-deep nesting takes ~0.1 s
PARAMETER_HEADERS = frozenset({"content-type", "content-disposition"})  # parsed by email.message._parseparam
MAX_PARAM_HEADER_CHARS = 16 * 1024  # a 255-character file name, RFC 2231 percent-encoded twice, takes ~5 KiB
MAX_HEADER_PARAMS = 200  # ';' per parameter header; such a file name is a few dozen RFC 2231 sections
MIN_AVERAGE_LINE_BYTES = 32  # base64 and quoted-printable lines are 76 bytes; a body of blank lines is not mail
LINE_ALLOWANCE = 100_000  # lines any message may have whatever its size (100,000 line objects: ~6 MB)
DEFAULT_MAX_PARTS = 1000
DEFAULT_MAX_ATTACHMENTS = 500


class MessageOverLimit(SyncError):
    """The message hit a hard parse limit (a cap or the deadline): it becomes a failed, quarantined item."""


@dataclass(frozen=True)
class MimeLimits:
    """The hard caps of one parse that come from settings (``SYNC_MIME_MAX_PARTS``, ``..._MAX_ATTACHMENTS``)."""

    max_parts: int = DEFAULT_MAX_PARTS
    max_attachments: int = DEFAULT_MAX_ATTACHMENTS


@dataclass
class Cutoff:
    """Why parsing stopped short of the whole message; ``reason`` stays None while every guard holds."""

    reason: str | None = None

    def hit(self, reason: str) -> None:
        if self.reason is None:  # the first limit met is the one that stopped the parse
            self.reason = reason


def max_lines(size: int) -> int:
    """Lines a message of ``size`` bytes may have: the feed parser's memory grows ~60 bytes per line."""
    return max(LINE_ALLOWANCE, size // MIN_AVERAGE_LINE_BYTES)


def bounded_parameters(name: str, value: str, cutoff: Cutoff) -> str:
    """``value`` when it is within the parameter-header caps; else its bare type, with the cutoff hit."""
    params = value.count(";")
    if len(value) <= MAX_PARAM_HEADER_CHARS and params <= MAX_HEADER_PARAMS:
        return value
    cutoff.hit(
        f"{name} header of {len(value)} chars with {params} parameters"
        f" (caps {MAX_PARAM_HEADER_CHARS} chars, {MAX_HEADER_PARAMS} parameters)"
    )
    return value.split(";", 1)[0][:256]


class Deadline:
    """A point in monotonic time after which parsing stops and returns what it has."""

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds
        self.hit = False

    def expired(self) -> bool:
        if not self.hit and time.monotonic() >= self._end:
            self.hit = True
        return self.hit


@dataclass
class ByteBudget:
    """Decoded bytes still allowed: base64, uuencode and TNEF can only shrink data, but a bug or a
    decompressor must not turn a capped message into an uncapped allocation."""

    remaining: int

    def take(self, size: int) -> bool:
        """Reserve ``size`` bytes; False (and nothing reserved) when they do not fit."""
        if size > self.remaining:
            return False
        self.remaining -= size
        return True


class DefectSink(Protocol):
    """Where parsing helpers report defects: a plain ``list[str]`` in tests, :class:`Defects` in the parser."""

    def append(self, text: str, /) -> None: ...


@dataclass
class Defects:
    """An ordered, capped list of short defect strings (duplicates kept once)."""

    items: list[str] = field(default_factory=list)
    dropped: int = 0

    def append(self, text: str, /) -> None:
        if text in self.items:
            return
        if len(self.items) >= MAX_DEFECTS:
            self.dropped += 1
            return
        self.items.append(text)

    def extend(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.append(text)

    def as_list(self) -> list[str]:
        if self.dropped:
            return [*self.items, f"{self.dropped} more defects not listed"]
        return list(self.items)
