"""Crafted messages that once stalled a mailbox, generated in code (nothing large is committed).

Each generator takes a size knob and returns the raw bytes (or, for HTML, the text) of one hostile
input; :func:`normal_message` is the well-formed message of the same size used as a baseline. The
benchmark ``bench.hostile_mime`` and the tests in ``tests/unit/mail/test_hostile_mime.py`` use them.
"""

from __future__ import annotations

import base64
import struct

HEAD = (
    b"From: Mallory <mallory@attacker.test>\r\nTo: alice@example.test\r\nSubject: crafted\r\n"
    b"Message-ID: <crafted@attacker.test>\r\nMIME-Version: 1.0\r\n"
)
TNEF_SIGNATURE = 0x223E9F78
_TNEF_REND_DATA = 0x00069002  # attachment level: starts a new attachment
_TNEF_TITLE = 0x00018010
_TNEF_DATA = 0x0006800F


def _mixed(*parts: bytes) -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts)
    return HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


def _base64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def rfc2231_continuations(count: int, *, folded: bool = False) -> bytes:
    """An attachment whose file name comes in ``count`` RFC 2231 sections (``filename*N*=``)."""
    separator = b";\r\n " if folded else b"; "
    sections = b"".join(separator + b"filename*%d*=%s" % (n, b"%41%42%43") for n in range(count))
    return _mixed(
        b"Content-Type: text/plain\r\n\r\nsee attached",
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment"
        + sections
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD",
    )


def quoted_printable_soft_breaks(size: int) -> bytes:
    """A text body of ``size`` bytes that is nothing but quoted-printable soft line breaks."""
    return (
        HEAD
        + b"Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + b"=\r\n" * (size // 3)
    )


def _tnef_attribute(level: int, attr: int, data: bytes) -> bytes:
    return struct.pack("<BII", level, attr, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def tnef_blob(count: int) -> bytes:
    """A TNEF stream of ``count`` tiny attachments (42 bytes each: 21 MB holds 500,000)."""
    one = (
        _tnef_attribute(2, _TNEF_REND_DATA, b"\x01\x00\xff\xff\xff\xff")
        + _tnef_attribute(2, _TNEF_TITLE, b"a\x00")
        + _tnef_attribute(2, _TNEF_DATA, b"x")
    )
    return struct.pack("<IH", TNEF_SIGNATURE, 0) + one * count


def tnef_attachments(count: int) -> bytes:
    """A message carrying :func:`tnef_blob` as ``winmail.dat``."""
    return _mixed(
        b"Content-Type: text/plain\r\n\r\nsee attached",
        b'Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + _base64_lines(tnef_blob(count)),
    )


def many_parts(count: int) -> bytes:
    """A multipart with ``count`` small parts (76-byte base64 lines, so the line guard does not fire)."""
    part = (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + (b"QUJD" * 19 + b"\r\n") * 3
    )
    return _mixed(*([part] * count))


def normal_message(size: int) -> bytes:
    """A well-formed message with one base64 attachment, about ``size`` bytes in all: the baseline."""
    return _mixed(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.",
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="report.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _base64_lines(bytes(range(256)) * (size * 3 // 4 // 256)),
    )


def html_unclosed_constructs(size: int) -> str:
    """HTML that makes ``html.parser`` rescan its buffer (CVE-2025-6069): ``size`` chars of ``<!``/``</``."""
    unit = "<!--x</a <![CDATA[ <?"
    return "<p>hello</p>" + unit * (size // len(unit))
