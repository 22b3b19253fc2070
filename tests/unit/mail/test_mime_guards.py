"""The guards: size cap, nesting, deadline, header length, attachment byte budget, defect cap."""

from __future__ import annotations

import base64
from email import message_from_bytes
from email.policy import compat32

from sync.mail.mime import header_block
from sync.mail.mime_guards import MAX_DEFECTS, ByteBudget, Deadline, Defects
from sync.mail.mime_parts import walk

from .mime_corpus import parse

HEAD = b"From: Carol <carol@fabrikam.test>\nTo: alice@example.test\nSubject: Big one\n"
MB = 1024 * 1024


def with_attachment(size: int) -> bytes:
    data = base64.encodebytes(b"\x00\x01\x02\x03" * (size // 4))
    return HEAD + (
        b'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nsee attached\n'
        b'--m\nContent-Type: application/octet-stream; name="big.bin"\nContent-Transfer-Encoding: base64\n\n'
        + data
        + b"--m--\n"
    )


def nested(depth: int) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\n--b%d--\n" % i for i in reversed(range(depth)))
    return HEAD + opening + b"Content-Type: text/plain\n\nhello" + closing


def many_parts(count: int) -> bytes:
    data = (b"QUJD" * 10 + b"\n") * 4  # 40-character lines: the line guard counts on mail-like lines
    part = b"--m\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + data
    return HEAD + b'Content-Type: multipart/mixed; boundary="m"\n\n' + part * count + b"--m--\n"


# --- size cap (N-14) ---------------------------------------------------------------------------------


def test_just_over_the_cap_parses_headers_only() -> None:
    raw = HEAD + b"\n" + b"x" * 2000
    assert parse(raw, max_bytes=len(raw) - 1).headers_only is True


def test_at_the_cap_parses_everything() -> None:
    raw = HEAD + b"\n" + b"x" * 2000
    assert parse(raw, max_bytes=len(raw)).headers_only is False


def test_over_the_cap_keeps_subject_and_sender() -> None:
    raw = HEAD + b"\n" + b"x" * 2000
    p = parse(raw, max_bytes=1024)
    assert (p.subject, p.from_[0].address) == ("Big one", "carol@fabrikam.test")


def test_over_the_cap_reports_size() -> None:
    raw = HEAD + b"\n" + b"x" * 2000
    assert parse(raw, max_bytes=1024).defects[0] == f"too large: {len(raw)} bytes > cap 1024"


def test_three_megabyte_attachment_over_one_megabyte_cap_has_no_attachments() -> None:
    p = parse(with_attachment(3 * MB), max_bytes=1 * MB)
    assert (p.headers_only, p.attachments, p.text_body) == (True, [], None)


def test_three_megabyte_attachment_under_the_cap_is_decoded() -> None:
    assert parse(with_attachment(3 * MB), max_bytes=10 * MB).attachments[0].size == 3 * MB


def test_header_block_stops_at_blank_line() -> None:
    assert header_block(b"A: 1\r\nB: 2\r\n\r\nbody\n\nmore") == b"A: 1\r\nB: 2\r\n\r\n"


def test_header_block_without_blank_line_cut_at_a_line_end() -> None:
    assert header_block(b"A: 1\nB: 2") == b"A: 1\n"


# --- nesting ------------------------------------------------------------------------------------------


def test_nesting_within_limit_reaches_the_body() -> None:
    assert parse(nested(10), max_nesting=20).text_body == "hello"


def test_nesting_past_limit_stops_descending() -> None:
    assert parse(nested(50), max_nesting=20).text_body is None


def test_nesting_past_limit_is_a_defect() -> None:
    assert "nesting too deep: more than 20 levels, rest skipped" in parse(nested(50), max_nesting=20).defects


def test_nesting_beyond_the_stdlib_recursion_falls_back_to_headers() -> None:
    p = parse(nested(1200))
    assert (p.headers_only, p.subject, p.defects[0]) == (
        True,
        "Big one",
        "nesting too deep: parser recursion limit, headers only",
    )


def test_message_rfc822_chain_does_not_raise() -> None:
    raw = HEAD + b"Content-Type: message/rfc822\n\n" * 3000 + b"hi\n"
    assert parse(raw).subject == "Big one"


# --- deadline -----------------------------------------------------------------------------------------


def test_tiny_timeout_reports_parse_timeout() -> None:
    assert "parse timeout" in parse(many_parts(3000), timeout=1e-9).defects


def test_tiny_timeout_still_has_headers() -> None:
    assert parse(many_parts(3000), timeout=1e-9).subject == "Big one"


def test_tiny_timeout_returns_partial_attachments() -> None:
    assert len(parse(many_parts(3000), timeout=1e-9).attachments) < 3000


def test_enough_time_reads_every_part() -> None:
    assert len(parse(many_parts(300)).attachments) == 300


def test_deadline_expires() -> None:
    assert Deadline(0).expired() is True


# --- headers, bytes, defects --------------------------------------------------------------------------


def test_long_subject_truncated() -> None:
    raw = b"From: a@example.test\nSubject: " + b"x" * 210_000 + b"\n\nbody"
    assert len(parse(raw).subject) == 64 * 1024


def test_long_subject_is_a_defect() -> None:
    raw = b"From: a@example.test\nSubject: " + b"x" * 210_000 + b"\n\nbody"
    assert "header too long: Subject 210000 chars > 65536, truncated" in parse(raw).defects


def test_byte_budget_refuses_what_does_not_fit() -> None:
    budget = ByteBudget(10)
    assert (budget.take(8), budget.take(3), budget.remaining) == (True, False, 2)


def test_attachments_past_the_byte_budget_are_dropped_with_a_defect() -> None:
    root = message_from_bytes(many_parts(3), policy=compat32)
    defects = Defects()
    found = walk(root, deadline=Deadline(10), budget=ByteBudget(250), max_nesting=20, defects=defects)
    assert (len(found.attachments), defects.as_list()[0]) == (
        2,
        "attachments over the size cap: attachment-3.bin (120 bytes) not kept",
    )


def test_defects_are_capped() -> None:
    defects = Defects()
    defects.extend(f"d{i}" for i in range(MAX_DEFECTS + 5))
    assert defects.as_list()[-1] == "5 more defects not listed"


def test_many_invalid_addresses_keep_the_defect_list_short() -> None:
    raw = b"From: a@example.test\nTo: " + b", ".join(b"bad%d" % i for i in range(500)) + b"\n\nx"
    assert len(parse(raw).defects) == MAX_DEFECTS + 1
