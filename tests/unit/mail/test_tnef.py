"""TNEF against MimeKit's corpus (each ``.tnef`` with its ``.list`` of expected names) and hostile blobs.

A ``.list`` names what MimeKit's test expects to find: attachment names, plus ``body.rtf`` / ``body.html``
for the message body. Its test adds an embedded-message attachment twice (once for the 89-byte placeholder
attribute, once for the object), so ``christmas.list`` says "Untitled Attachment" four times where the
stream holds two: names are compared as sets. The folder beside each ``.tnef`` holds the files another
extractor wrote: the same bytes as ours, except that the corpus stores text files with LF line ends and
keeps an OLE object's 16-byte interface id in front of its data.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from sync.mail import tnef

from .mime_corpus import TNEF, parse, require

BODY_ENTRIES = {"body.rtf", "body.html", "body.txt"}


def cases() -> list[str]:
    return sorted(p.stem for p in TNEF.glob("*.tnef")) or ["<corpus missing>"]


def unpacked(name: str) -> tnef.TnefContent:
    return tnef.unpack((require(TNEF) / f"{name}.tnef").read_bytes())


def expected(name: str) -> list[str]:
    return [line for line in (require(TNEF) / f"{name}.list").read_text().splitlines() if line]


@pytest.mark.parametrize("name", cases())
def test_listed_attachments_found(name: str) -> None:
    wanted = {n for n in expected(name) if n not in BODY_ENTRIES}
    assert wanted <= {a.file_name for a in unpacked(name).attachments}


@pytest.mark.parametrize("name", cases())
def test_listed_rtf_body_detected(name: str) -> None:
    assert unpacked(name).has_rtf_body or "body.rtf" not in expected(name)  # a list may leave a body out


@pytest.mark.parametrize("name", cases())
def test_listed_html_body_found(name: str) -> None:
    assert unpacked(name).html_body is not None or "body.html" not in expected(name)


def _same_content(ours: bytes, theirs: bytes) -> bool:
    return ours.replace(b"\r\n", b"\n") == theirs.replace(b"\r\n", b"\n") or theirs[16:] == ours


@pytest.mark.parametrize("name", cases())
def test_attachment_bytes_match_extracted_files(name: str) -> None:
    folder = require(TNEF) / name
    attachments = unpacked(name).attachments
    unique = {a.file_name: a.data for a in attachments if [b.file_name for b in attachments].count(a.file_name) == 1}
    files = [p for p in folder.iterdir() if p.name in unique] if folder.is_dir() else []
    assert [p.name for p in files if not _same_content(unique[p.name], p.read_bytes())] == []


def test_every_listed_stream_is_covered() -> None:
    assert len(cases()) == 19


def test_inline_flag_and_mime_tag_read() -> None:
    image = unpacked("panic").attachments[0]
    assert (image.file_name, image.content_type) == ("image001.jpg", "image/jpeg")


def test_embedded_outlook_item_kept_as_tnef() -> None:
    assert [a.content_type for a in unpacked("christmas").attachments][1:] == ["application/ms-tnef"] * 2


def test_stream_cut_short_keeps_what_was_read() -> None:
    assert [a.file_name for a in unpacked("panic").attachments] == ["image001.jpg", "image002.jpg", "image003.png"]


def test_stream_cut_short_is_a_defect() -> None:
    assert unpacked("garbage-at-end").defects == ["tnef: truncated"]


# --- hostile and broken streams ----------------------------------------------------------------------


def attribute(level: int, attr_id: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", checksum)


def stream(*attributes: bytes) -> bytes:
    return struct.pack("<IH", tnef.SIGNATURE, 0) + b"".join(attributes)


def test_bad_signature_raises_tnef_error() -> None:
    with pytest.raises(tnef.TnefError):
        tnef.unpack(b"PK\x03\x04 not tnef")


def test_huge_multi_value_count_rejected_at_once() -> None:
    props = struct.pack("<IHHI", 1, 0x1002, 0x0001, 20_000_000)  # 20 million shorts in 12 bytes
    started = time.perf_counter()
    content = tnef.unpack(stream(attribute(1, 0x00069003, props)))
    assert (time.perf_counter() - started < 0.1, content.defects) == (
        True,
        ["tnef: MAPI properties: value count 20000000 exceeds the data"],
    )


def test_huge_property_count_ends_with_the_data() -> None:
    started = time.perf_counter()
    tnef.unpack(stream(attribute(1, 0x00069003, struct.pack("<I", 0xFFFFFFFF))))
    assert time.perf_counter() - started < 0.1


def test_attribute_longer_than_stream_is_a_defect() -> None:
    blob = stream(struct.pack("<BII", 2, 0x0006800F, 1_000_000) + b"abc")
    assert tnef.unpack(blob).defects == ["tnef: attribute of 1000000 bytes past the end"]


def test_expired_deadline_stops_reading() -> None:
    assert tnef.unpack(stream(attribute(1, 0x00069006, b"\0\0\1\0")), expired=lambda: True).defects == [
        "tnef: parse timeout"
    ]


def test_attachment_built_from_attributes() -> None:
    blob = stream(
        attribute(2, 0x00069002, b"\x01\x00\xff\xff\xff\xff"),
        attribute(2, 0x00018010, b"notes.txt\x00"),
        attribute(2, 0x0006800F, b"hello\x00\x00"),
    )
    only = tnef.unpack(blob).attachments[0]
    assert (only.file_name, only.data) == ("notes.txt", b"hello\x00\x00")  # trailing NULs are data


# --- winmail.dat inside a MIME message ----------------------------------------------------------------


def mime_corpus_message(path: str) -> bytes:
    return (require(TNEF.parent.parent) / path).read_bytes()


def test_winmail_dat_replaced_by_its_attachments() -> None:
    names = [a.file_name for a in parse(mime_corpus_message("mimekit/tnef/rich-text.eml")).attachments]
    assert names[0] == "kitten-playing-with-a-christmas-tree.jpg"


def test_winmail_dat_html_body_used_when_the_message_has_none() -> None:
    html = parse(mime_corpus_message("mimekit/tnef/ukr.eml")).html_body or ""
    assert "<p>шостий</p>" in html


def test_broken_winmail_dat_kept_as_attachment_with_defect() -> None:
    raw = (
        b'From: a@example.test\nContent-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain\n\nx\n'
        b'--m\nContent-Type: application/ms-tnef; name="winmail.dat"\nContent-Transfer-Encoding: base64\n\n'
        b"bm90IHRuZWY=\n--m--\n"
    )
    p = parse(raw)
    assert ([a.file_name for a in p.attachments], "tnef: not a TNEF stream (bad signature)" in p.defects) == (
        ["winmail.dat"],
        True,
    )


def test_corpus_folder_is_where_the_tests_expect_it() -> None:
    assert isinstance(require(TNEF), Path)
