"""Make parsed text safe to store: no lone surrogates, no NULs.

Raw 8-bit header bytes travel through Python's email package as surrogate escapes; UTF-8 encoders (and
so Table Storage) refuse them. Valid UTF-8 hiding behind the escapes is recovered, anything else becomes
U+FFFD, so a strange header costs a replacement character, never the message.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def clean_text(text: str) -> str:
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace").replace("\x00", "")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sanitize(value)
    return value


def sanitize(obj: T) -> T:
    """A copy of a (frozen) dataclass with every string inside it cleaned; bytes are left alone."""
    assert dataclasses.is_dataclass(obj) and not isinstance(obj, type)
    changes = {f.name: _clean(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    return dataclasses.replace(obj, **changes)
