"""TNEF (``winmail.dat``, ``application/ms-tnef``) unpacked into its attachments and bodies.

Outlook wraps attachments and the rich body of a message in a TNEF stream (MS-OXTNEF). This reader
handles the parts the incoming pipeline needs: attachment names, data, MIME type and content id, and the
plain/HTML body; a compressed RTF body is only detected.

Why not the ``tnefparse`` package: it reads the corpus well, but trusts the counts in the stream. A
40-byte blob claiming 20 million multi-valued properties kept it busy for 50 s (measured), a 4-billion
count would run for hours, and it strips trailing NUL bytes from binary attachment data. Here every count
is checked against the bytes that remain, every loop consumes input, and the caller's deadline is checked
per attribute, so a hostile blob costs at most one pass over its own bytes. The number of attachments is
capped too (``max_attachments``): 21 MB of empty attachment records are 500,000 attachments and 841 MB of
objects, so the reader stops at the cap and says so (``over_attachments``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from sync.errors import SyncError
from sync.mail import charsets
from sync.mail.mime_guards import DEFAULT_MAX_ATTACHMENTS

SIGNATURE = 0x223E9F78
LEVEL_MESSAGE = 1
LEVEL_ATTACHMENT = 2

# Attribute ids (low 16 bits of the attribute tag, MS-OXTNEF 2.1.3.3).
ATT_BODY = 0x800C
ATT_ATTACH_DATA = 0x800F
ATT_ATTACH_TITLE = 0x8010
ATT_ATTACH_REND_DATA = 0x9002  # starts a new attachment
ATT_MSG_PROPS = 0x9003
ATT_ATTACHMENT = 0x9005  # the attachment's MAPI properties
ATT_OEM_CODEPAGE = 0x9007

# MAPI property ids.
PR_BODY = 0x1000
PR_RTF_COMPRESSED = 0x1009
PR_BODY_HTML = 0x1013
PR_INTERNET_CPID = 0x3FDE
PR_DISPLAY_NAME = 0x3001
PR_ATTACH_DATA = 0x3701  # PR_ATTACH_DATA_BIN / PR_ATTACH_DATA_OBJ
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_MIME_TAG = 0x370E
PR_ATTACH_CONTENT_ID = 0x3712
PR_ATTACH_FLAGS = 0x3714
ATTACH_EMBEDDED_MSG = 5
ATT_MHTML_REF = 0x4  # PR_ATTACH_FLAGS: the attachment is referenced from the HTML body

# MAPI property types: fixed value sizes (each value is padded to 4 bytes) and the variable-length ones.
_FIXED_SIZE = {0x0001: 0, 0x0002: 2, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000A: 4}
_FIXED_SIZE |= {0x000B: 2, 0x0014: 8, 0x0040: 8, 0x0048: 16}
PT_STRING8 = 0x001E
PT_UNICODE = 0x001F
PT_OBJECT = 0x000D
PT_BINARY = 0x0102
_VARIABLE = frozenset({PT_STRING8, PT_UNICODE, PT_OBJECT, PT_BINARY})
MV_FLAG = 0x1000
NAMED_PROPERTY = 0x8000

IID_IMESSAGE = bytes.fromhex("0703020000000000c000000000000046")
_WINDOWS_CODEPAGES = {65001: "utf-8", 1200: "utf-16-le", 20127: "ascii", 20866: "koi8-r", 21866: "koi8-u"}
_WINDOWS_CODEPAGES |= {28591 + n: f"iso-8859-{1 + n}" for n in range(15)}
_WINDOWS_CODEPAGES |= {50220: "iso-2022-jp", 51932: "euc_jp", 936: "gb18030", 54936: "gb18030"}


class TnefError(SyncError):
    """The bytes are not a TNEF stream this reader can use."""


@dataclass(frozen=True)
class TnefAttachment:
    """One attachment found in a TNEF stream."""

    file_name: str | None
    content_type: str | None
    content_id: str | None
    is_inline: bool
    data: bytes


@dataclass(frozen=True)
class TnefContent:
    """What a TNEF stream held: attachments, bodies, and the defects met on the way."""

    attachments: list[TnefAttachment]
    text_body: str | None
    html_body: str | None
    has_rtf_body: bool
    defects: list[str]
    over_attachments: bool = False  # the stream holds more than max_attachments: reading stopped at the cap


@dataclass
class _Property:
    type: int  # the MAPI type without the multi-value flag
    values: list[bytes]


@dataclass
class _Draft:
    """An attachment being assembled from its attributes (they come in any order)."""

    title: str | None = None
    data: bytes | None = None
    properties: dict[int, _Property] = field(default_factory=dict)


class _Reader:
    """Bounds-checked little-endian reads over one buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, size: int) -> bytes:
        if size < 0 or size > self.remaining:
            raise TnefError("truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("<H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def padded(self, size: int) -> bytes:
        """``size`` bytes, then skip the padding to the next multiple of four."""
        chunk = self.take(size)
        self.take(min(-size % 4, self.remaining))
        return chunk


def codec_for(codepage: int | None) -> str:
    """A Python codec for a Windows code page number, Windows-1252 when unknown."""
    if codepage is None:
        return charsets.FALLBACK
    name = _WINDOWS_CODEPAGES.get(codepage, f"cp{codepage}")
    return name if charsets.is_known(name) else charsets.FALLBACK


def _string(raw: bytes, codec: str) -> str:
    return raw.decode(codec, errors="replace").split("\x00", 1)[0]


def read_properties(data: bytes, defects: list[str]) -> dict[int, _Property]:
    """A MAPI property block (MS-OXTNEF 2.1.3.4); every count is checked against the bytes left.

    A block that breaks part-way keeps the properties read before the break, with a defect.
    """
    reader = _Reader(data)
    props: dict[int, _Property] = {}
    try:
        count = reader.u32()
        for _ in range(count):  # each round consumes at least 4 bytes, so a huge count ends with the data
            prop_type, prop_id = reader.u16(), reader.u16()
            if prop_id >= NAMED_PROPERTY:  # named property: GUID, kind, then an id or a name
                reader.take(16)
                if reader.u32() == 0:
                    reader.u32()
                else:
                    reader.padded(reader.u32())
            base = prop_type & ~MV_FLAG
            values = _values(reader, base, multi=bool(prop_type & MV_FLAG))
            props.setdefault(prop_id, _Property(type=base, values=values))
    except TnefError as exc:
        defects.append(f"tnef: MAPI properties: {exc}")
    return props


def _values(reader: _Reader, base: int, multi: bool) -> list[bytes]:
    if base in _VARIABLE:
        count = reader.u32()
        if count > reader.remaining // 4:
            raise TnefError(f"value count {count} exceeds the data")
        return [reader.padded(reader.u32()) for _ in range(count)]
    size = _FIXED_SIZE.get(base)
    if size is None:
        raise TnefError(f"unknown MAPI type {base:#06x}")
    count = reader.u32() if multi else 1
    step = size + (-size % 4)
    if multi and (step == 0 or count > reader.remaining // step):
        raise TnefError(f"value count {count} exceeds the data")
    return [reader.padded(size) for _ in range(count)]


def _int(prop: _Property | None) -> int | None:
    if prop is None or not prop.values or len(prop.values[0]) < 4:
        return None
    value: int = struct.unpack("<I", prop.values[0][:4])[0]
    return value


def _text(prop: _Property | None, codec: str) -> str | None:
    if prop is None or not prop.values:
        return None
    return _string(prop.values[0], "utf-16-le" if prop.type == PT_UNICODE else codec)


def _attachment(draft: _Draft, codec: str) -> TnefAttachment:
    props = draft.properties
    name = _text(props.get(PR_ATTACH_LONG_FILENAME), codec) or _text(props.get(PR_ATTACH_FILENAME), codec)
    name = name or draft.title or _text(props.get(PR_DISPLAY_NAME), codec)
    content_type = _text(props.get(PR_ATTACH_MIME_TAG), codec)
    data = draft.data or b""
    value = props.get(PR_ATTACH_DATA)
    if value is not None and value.values:
        data = value.values[0]
        if value.type == PT_OBJECT:  # an object starts with its interface id
            iid, data = data[:16], data[16:]
            if iid == IID_IMESSAGE or _int(props.get(PR_ATTACH_METHOD)) == ATTACH_EMBEDDED_MSG:
                content_type = "application/ms-tnef"  # an embedded Outlook item, itself a TNEF stream
    flags = _int(props.get(PR_ATTACH_FLAGS)) or 0
    content_id = _text(props.get(PR_ATTACH_CONTENT_ID), codec)
    return TnefAttachment(
        file_name=name or None,
        content_type=content_type or None,
        content_id=content_id or None,
        is_inline=bool(flags & ATT_MHTML_REF),
        data=data,
    )


class _Stream:
    """The state of one pass over a TNEF stream: attachment drafts and message-level values."""

    def __init__(self, max_attachments: int) -> None:
        self.max_attachments = max_attachments
        self.over_attachments = False
        self.defects: list[str] = []
        self.drafts: list[_Draft] = []
        self.message_props: dict[int, _Property] = {}
        self.oem_codepage: int | None = None
        self.att_body: bytes | None = None

    def attachment_attribute(self, attr: int, value: bytes) -> None:
        if attr == ATT_ATTACH_REND_DATA or not self.drafts:
            if len(self.drafts) >= self.max_attachments:
                self.over_attachments = True
                raise TnefError(f"more than {self.max_attachments} attachments")
            self.drafts.append(_Draft())
        draft = self.drafts[-1]
        if attr == ATT_ATTACH_TITLE:
            draft.title = _string(value, codec_for(self.oem_codepage)) or None
        elif attr == ATT_ATTACH_DATA:
            draft.data = value
        elif attr == ATT_ATTACHMENT:
            draft.properties = read_properties(value, self.defects)

    def message_attribute(self, attr: int, value: bytes) -> None:
        if attr == ATT_OEM_CODEPAGE and len(value) >= 4:
            self.oem_codepage = struct.unpack("<I", value[:4])[0]
        elif attr == ATT_MSG_PROPS:
            self.message_props = read_properties(value, self.defects)
        elif attr == ATT_BODY:
            self.att_body = value

    def read(self, reader: _Reader, expired: Callable[[], bool]) -> None:
        """Read attributes to the end; a broken one ends the pass with a defect, keeping the rest."""
        while reader.remaining > 0:
            if expired():
                self.defects.append("tnef: parse timeout")
                return
            try:
                level, tag, length = reader.u8(), reader.u32(), reader.u32()
                if length > reader.remaining:
                    raise TnefError(f"attribute of {length} bytes past the end")
                value = reader.take(length)
                reader.u16()  # checksum: not verified, a mismatch would change nothing we do
                if level == LEVEL_ATTACHMENT:
                    self.attachment_attribute(tag & 0xFFFF, value)
                elif level == LEVEL_MESSAGE:
                    self.message_attribute(tag & 0xFFFF, value)
                else:
                    raise TnefError(f"unknown attribute level {level}")
            except TnefError as exc:
                self.defects.append(f"tnef: {exc}")
                return

    def content(self) -> TnefContent:
        codec = codec_for(self.oem_codepage)
        props = self.message_props
        body_codec = codec_for(_int(props.get(PR_INTERNET_CPID))) if PR_INTERNET_CPID in props else codec
        text_body = _text(props.get(PR_BODY), body_codec)
        if text_body is None and self.att_body is not None:
            text_body = _string(self.att_body, codec)
        return TnefContent(
            attachments=[_attachment(draft, codec) for draft in self.drafts],
            text_body=text_body,
            html_body=_text(props.get(PR_BODY_HTML), body_codec),
            has_rtf_body=PR_RTF_COMPRESSED in props,
            defects=self.defects,
            over_attachments=self.over_attachments,
        )


def unpack(
    data: bytes, *, expired: Callable[[], bool] = lambda: False, max_attachments: int = DEFAULT_MAX_ATTACHMENTS
) -> TnefContent:
    """Attachments and bodies of a TNEF stream; raises TnefError when it is not one.

    A stream that breaks part-way, or holds more than ``max_attachments``, keeps what was read before
    the break, with a defect.
    """
    reader = _Reader(data)
    if reader.remaining < 6 or reader.u32() != SIGNATURE:
        raise TnefError("not a TNEF stream (bad signature)")
    reader.u16()  # legacy key
    stream = _Stream(max_attachments)
    stream.read(reader, expired)
    return stream.content()
