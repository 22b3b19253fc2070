"""Feed raw bytes to the standard library's parser with the hard guards applied as it goes.

``email.feedparser`` does the MIME framing well, but it trusts its input: it re-parses a parameter header
once per parameter (quadratic in the number of parameters) and builds a ``Message`` for every part, however
many. Two hooks the parser offers bound that work without patching it:

- a policy whose ``header_source_parse`` (called once per header as it is read) cuts a parameter header
  over the caps down to its bare type and records the cutoff, before the parser asks it for a boundary;
- a message factory that counts the parts created and records the cutoff past ``max_parts``.

The bytes go in ``FEED_CHUNK_BYTES`` at a time; between chunks the feed stops at a cutoff or the deadline,
so a hostile message costs at most one chunk past its first broken limit.
"""

from __future__ import annotations

from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import Compat32, Policy, compat32

from sync.mail.mime_guards import (
    FEED_CHUNK_BYTES,
    PARAMETER_HEADERS,
    Cutoff,
    Deadline,
    DefectSink,
    bounded_parameters,
)


class BoundedHeaders(Compat32):
    """``compat32`` (raw header values) with the parameter-header caps applied as each header is read."""

    cutoff: Cutoff | None = None

    def __init__(self, cutoff: Cutoff | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "cutoff", cutoff)  # policies refuse attribute writes after construction

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        if self.cutoff is not None and name.strip().lower() in PARAMETER_HEADERS:
            value = bounded_parameters(name.strip(), value, self.cutoff)
        return name, value


class PartCounter:
    """The parser's message factory: a plain ``Message``, counted against ``max_parts``."""

    def __init__(self, max_parts: int, cutoff: Cutoff) -> None:
        self.max_parts = max_parts
        self.cutoff = cutoff
        self.count = 0

    def __call__(self, policy: Policy = compat32) -> Message:
        self.count += 1
        if self.count > self.max_parts:
            self.cutoff.hit(f"more than {self.max_parts} MIME parts")
        return Message(policy)


def feed(
    raw: bytes, *, deadline: Deadline, cutoff: Cutoff, max_parts: int, defects: DefectSink, whole: bool = False
) -> Message:
    """The parsed root message; stops at the deadline or a cutoff with what it has parsed.

    The first chunk is always parsed, so even an expired deadline leaves the headers to report on;
    ``whole`` reads every chunk even past a cutoff (a header block, bounded in size, read for its subject
    and sender).
    """
    counter = PartCounter(max_parts, cutoff)
    parser = BytesFeedParser(_factory=counter, policy=BoundedHeaders(cutoff))
    counter.count = 0  # the parser calls its factory once on construction, to learn its signature
    for start in range(0, len(raw), FEED_CHUNK_BYTES):
        parser.feed(raw[start : start + FEED_CHUNK_BYTES])
        if start + FEED_CHUNK_BYTES >= len(raw) or (cutoff.reason is not None and not whole):
            break
        if deadline.expired():
            defects.append("parse timeout")
            break
    message = parser.close()
    if not isinstance(message, Message):  # pragma: no cover - close() always returns the root
        raise TypeError("parser returned no message")
    return message
