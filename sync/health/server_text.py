"""What of a server's answer may reach an alert: one short, printable line — pure.

Alerts are listed by every reader of the admin API. A server's answer is the server's to choose: an HTTP
body, headers, a multi-line banner, terminal escapes, or a look-alike of our own text. An alert keeps the
classified reason (its code and our wording) and at most one line of what the server said, cut short;
the connectors have already redacted the secret they sent (``sync.mail.transport.redact``).
"""

from __future__ import annotations

import re
import unicodedata

MAX_SERVER_LINE = 200  # characters of a server's answer kept in an alert's details or reason
ELLIPSIS = "…"
_CODE = re.compile(r"[^A-Za-z0-9_.:-]+")
MAX_CODE = 64
_SPACES = re.compile(r"\s+")


def printable(text: str) -> str:
    """``text`` without control or format characters (line breaks become spaces), spaces collapsed."""
    kept = "".join(" " if char.isspace() else char for char in text if not unicodedata.category(char).startswith("C"))
    return _SPACES.sub(" ", kept).strip()


def one_server_line(text: str, limit: int = MAX_SERVER_LINE) -> str:
    """The first non-empty line of ``text``, printable and at most ``limit`` characters."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    line = printable(first)
    return line if len(line) <= limit else line[: limit - 1] + ELLIPSIS


def safe_code(code: str) -> str:
    """An error code as an identifier (a server may choose Graph's ``error.code``)."""
    return _CODE.sub("", code)[:MAX_CODE] or "Unknown"
