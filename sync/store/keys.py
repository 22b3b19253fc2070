"""Making arbitrary text safe as a PartitionKey or RowKey.

Table Storage refuses ``/ \\ # ?`` and control characters in keys, and email addresses may contain
``/ # ?`` legally; such characters are percent-escaped (and ``%`` itself), so the mapping stays
one-to-one and readable for ordinary addresses.
"""

from __future__ import annotations

import hashlib

_UNSAFE = {"/", "\\", "#", "?", "%"}
MAX_KEY_CHARS = 512  # keys are limited to 1 KiB (UTF-16): stay well below


def safe_key(text: str) -> str:
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _UNSAFE or code < 0x20 or 0x7F <= code <= 0x9F:
            out.append(f"%{code:02X}")
        else:
            out.append(ch)
    key = "".join(out)
    if len(key) > MAX_KEY_CHARS:
        # Over-long values keep a readable head and a hash of the whole for uniqueness.
        key = key[:400] + "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    return key


def hashed_key(text: str) -> str:
    """A fixed-length key for ids that are long or opaque (Exchange item ids)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
