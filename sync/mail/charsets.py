"""Bytes to text with the charset a message declares, never failing.

Mail in the wild declares charsets Python does not know (``x-unknown``, ``iso-8859-8-i``), declares
``us-ascii`` over UTF-8 bytes, or declares nothing over 8-bit text. Decoding tries the declared charset,
then UTF-8, then Windows-1252 with replacement characters, and says what it had to do.
"""

from __future__ import annotations

import codecs

# Names mailers use that Python does not know, or knows as a narrower charset than what is really sent.
_ALIASES = {
    "gb2312": "gb18030",  # GB2312 labels are routinely GBK/GB18030 text; GB18030 is a superset
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "windows-874": "cp874",
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "unicode-1-1-utf-7": "utf-7",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "ansi_x3.4-1968": "ascii",
    "ascii": "ascii",
    "us-ascii": "ascii",
    "x-user-defined": "cp1252",
}
_ASCII_NAMES = frozenset({"ascii", "us-ascii", "ansi_x3.4-1968", "646", "us"})
FALLBACK = "cp1252"
_MAX_NAME = 64  # longer "charset names" are junk; looking them up only costs time


def normalize(charset: str | None) -> str | None:
    """The codec name to try for a declared charset (lowercase, unquoted, aliased); None if none."""
    if charset is None:
        return None
    name = charset.strip().strip("\"'").strip().lower()
    if not name:
        return None
    if len(name) > _MAX_NAME:
        return name[:_MAX_NAME]
    return _ALIASES.get(name, name)


def is_known(charset: str) -> bool:
    """True when Python has a text codec of this name (bytes.decode refuses the non-text ones)."""
    if len(charset) > _MAX_NAME:
        return False
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: NUL or surrogates in the name
        return False
    return getattr(info, "_is_text_encoding", True) is not False


def guess(data: bytes) -> str:
    """Undeclared 8-bit text: UTF-8 when it is valid UTF-8, else Windows-1252."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(FALLBACK, errors="replace")


def decode(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Text and, when decoding was not clean, a short defect naming the charset."""
    name = normalize(charset)
    if name is None:
        return guess(data), None
    shown = repr(name[:40])
    if not is_known(name):
        return guess(data), f"undecodable charset {shown}: unknown, decoded as utf-8/{FALLBACK}"
    try:
        return data.decode(name), None
    except (UnicodeError, LookupError):  # UnicodeError, not only UnicodeDecodeError: idna raises the base class
        pass
    if name in _ASCII_NAMES:  # "us-ascii" over 8-bit bytes: mislabelled, not broken
        return guess(data), None
    try:
        text = data.decode(name, errors="replace")
    except (UnicodeError, LookupError):  # codecs such as idna refuse the "replace" handler
        text = guess(data)
    return text, f"undecodable charset {shown}: invalid bytes replaced"
