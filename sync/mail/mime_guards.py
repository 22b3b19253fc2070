"""Guards that keep one hostile message from eating a worker's time or memory.

Incoming mail is untrusted input: a message can claim a 4-billion-entry table in 20 bytes, nest
multiparts a thousand deep, or carry a 200 KB subject. The parser checks these guards cooperatively
(between chunks, parts and TNEF attributes) and records a short defect instead of failing, so the
pipeline still gets a best-effort result it can store or quarantine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

MAX_HEADER_CHARS = 64 * 1024  # a longer single header is pathological; Table Storage strings stop at 64 KiB
MAX_HEADER_BLOCK_BYTES = 1024 * 1024  # header block kept when only headers are parsed (size cap hit)
MAX_DEFECTS = 100  # a broken message can raise a defect per line; the first hundred tell the story
FEED_CHUNK_BYTES = 16 * 1024  # fed in chunks to check the deadline; one chunk at 800-deep nesting takes ~0.1 s


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
