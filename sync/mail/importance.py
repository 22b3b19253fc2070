"""How important the sender marked a message, from whichever of the four headers mail clients write — pure.

Outlook writes ``Importance`` (RFC 2156) and ``X-Priority``; other clients one of ``X-Priority`` (1 and 2 are
high, 3 normal, 4 and 5 low, often followed by a word: ``1 (Highest)``), ``X-MSMail-Priority`` or ``Priority``
(``urgent``, ``normal``, ``non-urgent``). The first header with a value we understand decides, in that order;
none: the message says nothing (the email activity keeps its normal priority, R-REC-1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Importance = Literal["high", "normal", "low"]

_WORDS: dict[str, Importance] = {
    "high": "high",
    "normal": "normal",
    "low": "low",
    "urgent": "high",
    "non-urgent": "low",
}
_DIGITS: dict[str, Importance] = {"1": "high", "2": "high", "3": "normal", "4": "low", "5": "low"}
HEADERS = ("Importance", "X-Priority", "X-MSMail-Priority", "Priority")


def importance(header: Callable[[str], str | None]) -> Importance | None:
    """``header(name)``: the header's first value, or None when the message has none."""
    for name in HEADERS:
        value = (header(name) or "").strip().lower()
        found = _DIGITS.get(value[:1]) if name == "X-Priority" else _WORDS.get(value)
        if found is not None:
            return found
    return None
