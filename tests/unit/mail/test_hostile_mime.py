"""Crafted messages stop at a hard limit, within bounded work and memory, and say which limit.

Bounds asserted (no wall-clock thresholds): the limit that fired (``cut_short``), how much was decoded,
and peak traced memory as a multiple of the message size, against a well-formed message of about the
same size parsed in the same test (``normal_message``): about 5.5x its size, mostly the parser's copy
of the base64 text and the decoded bytes.
"""

from __future__ import annotations

import functools
import tracemalloc
from collections.abc import Callable

import pytest

from bench import hostile_messages as hostile
from sync.mail import tnef
from sync.mail.mime import ParsedMessage, parse_message
from sync.mail.mime_guards import MAX_HEADER_PARAMS, MAX_PARAM_HEADER_CHARS, MimeLimits

from .mime_corpus import parse

MB = 1024 * 1024
# These tests assert which hard limit stops each case; the deadline has a test of its own. Under tracemalloc on a
# loaded machine a parse may take longer than the production deadline, which must not decide the outcome here.
NO_DEADLINE_S = 3600.0
PEAK_PER_BYTE = 6.0  # peak traced memory per message byte: a normal message of the size measures ~5.5


def measured(raw: bytes, limits: MimeLimits | None = None) -> tuple[ParsedMessage, float]:
    """The parse of ``raw`` and its peak traced memory per message byte."""
    tracemalloc.start()
    try:
        parsed = parse_message(raw, max_bytes=150 * MB, max_nesting=20, timeout_seconds=NO_DEADLINE_S, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return parsed, peak / len(raw)


# --- the crafted cases of the issue, at or near their reported size ------------------------------------

CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "200,000 RFC 2231 sections on one line": (
        lambda: hostile.rfc2231_continuations(200_000),
        "Content-Disposition header of",
    ),
    "200,000 RFC 2231 sections folded": (lambda: hostile.rfc2231_continuations(200_000, folded=True), "lines in"),
    "20 MB of quoted-printable soft breaks": (lambda: hostile.quoted_printable_soft_breaks(20 * MB), "lines in"),
    "500,000 TNEF attachments": (lambda: hostile.tnef_attachments(500_000), "more than 500 attachments"),
    "50,000 MIME parts": (lambda: hostile.many_parts(50_000), "more than 1000 MIME parts"),
}


@functools.cache
def crafted(case: str) -> tuple[ParsedMessage, float]:
    """Each case is generated and parsed once for the three tests below (the TNEF one is 28 MB)."""
    return measured(CASES[case][0]())


@pytest.mark.parametrize("case", CASES)
def test_crafted_message_is_cut_short_with_its_reason(case: str) -> None:
    assert CASES[case][1] in (crafted(case)[0].cut_short or "")


@pytest.mark.parametrize("case", CASES)
def test_crafted_message_keeps_no_attachment(case: str) -> None:
    assert crafted(case)[0].attachments == []


@pytest.mark.parametrize("case", CASES)
def test_crafted_message_peak_memory_within_bound(case: str) -> None:
    assert crafted(case)[1] < PEAK_PER_BYTE


def test_crafted_message_keeps_its_headers_for_the_item_failure() -> None:
    parsed, _ = measured(hostile.rfc2231_continuations(200_000))
    assert (parsed.subject, parsed.from_[0].address) == ("crafted", "mallory@attacker.test")


def test_normal_message_of_the_same_size_is_whole_and_within_the_same_bound() -> None:
    parsed, per_byte = measured(hostile.normal_message(6 * MB))
    assert (parsed.cut_short, len(parsed.attachments), per_byte < PEAK_PER_BYTE) == (None, 1, True)


# --- the limits one at a time --------------------------------------------------------------------------


def with_disposition(params: str) -> bytes:
    return (
        b"From: a@example.test\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: application/octet-stream\nContent-Disposition: attachment" + params.encode() + b"\n\nx\n--b--\n"
    )


def test_parameter_header_at_the_caps_is_read() -> None:
    params = ";x=1" * (MAX_HEADER_PARAMS - 1) + '; filename="a.bin"'
    assert parse(with_disposition(params)).attachments[0].file_name == "a.bin"


def test_one_parameter_past_the_cap_cuts_the_parse() -> None:
    params = ";x=1" * MAX_HEADER_PARAMS + '; filename="a.bin"'
    assert "201 parameters" in (parse(with_disposition(params)).cut_short or "")


def test_parameter_header_longer_than_the_cap_cuts_the_parse() -> None:
    params = '; filename="' + "a" * MAX_PARAM_HEADER_CHARS + '"'
    assert "Content-Disposition header of" in (parse(with_disposition(params)).cut_short or "")


def test_long_subject_is_not_a_hard_limit() -> None:
    raw = b"From: a@example.test\nSubject: " + b"x" * 210_000 + b"\n\nbody"
    assert parse(raw).cut_short is None


def test_attachment_cap_comes_from_the_limits() -> None:
    parsed, _ = measured(hostile.many_parts(3), MimeLimits(max_attachments=2))
    assert parsed.cut_short == "more than 2 attachments"


def test_part_cap_comes_from_the_limits() -> None:
    parsed, _ = measured(hostile.many_parts(30), MimeLimits(max_parts=20))
    assert parsed.cut_short == "more than 20 MIME parts"


def test_parts_within_the_cap_are_all_read() -> None:
    parsed, _ = measured(hostile.many_parts(300))
    assert (parsed.cut_short, len(parsed.attachments)) == (None, 300)


def test_deadline_cuts_the_parse() -> None:
    assert parse(hostile.many_parts(3000), timeout=1e-9).cut_short == "parse timeout after 1e-09 s"


def test_tnef_reader_stops_at_the_attachment_cap() -> None:
    content = tnef.unpack(hostile.tnef_blob(1000), max_attachments=10)
    assert (len(content.attachments), content.over_attachments) == (10, True)


def test_tnef_within_the_cap_is_whole() -> None:
    content = tnef.unpack(hostile.tnef_blob(10), max_attachments=10)
    assert (len(content.attachments), content.over_attachments) == (10, False)
