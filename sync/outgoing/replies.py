"""SMTP replies: what each one means for a recipient, and how long an email waits after a failure — pure.

RFC 5321 puts the class in the first digit: 2 accepted, 4 try again later, 5 do not try again. The
enhanced status code (RFC 3463, ``X.Y.Z`` at the start of the text) refines a few that the first digit
gets wrong for us, after Nylas' SMTP error table:

- ``X.4.5`` (a sending or daily quota, e.g. Gmail ``550 5.4.5``) is transient: the same message goes
  through later (R-OUT-15 ``ErrorSubmissionQuotaExceeded`` "will try to send the message again later");
- ``535``/``534``/``530`` and ``X.7.8``/``X.7.9`` say the credentials were refused (R-OUT-16,
  ``OutgoingEmailAuthenticationError``), except ``454 4.7.0``, a temporary authentication failure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
AUTH_REPLY_CODES = frozenset({530, 534, 535, 538})
AUTH_ENHANCED = frozenset({"5.7.8", "5.7.9"})
QUOTA_SUBJECT_DETAIL = "4.5"  # "X.4.5": mail system congestion / quota (Gmail, Exchange Online)

# What the common replies mean, in words an administrator can act on (after Nylas' table).
MEANINGS: dict[tuple[int, str | None], str] = {
    (421, "4.7.0"): "the server is rate limiting this sender",
    (421, None): "the server is not available now",
    (450, None): "the mailbox is unavailable now",
    (451, None): "the server could not process the message now",
    (452, None): "the server has no room for the message now",
    (550, "5.1.1"): "the mailbox does not exist",
    (550, "5.4.5"): "the sending quota is exceeded",
    (550, "5.7.1"): "the server refused this sender or recipient",
    (550, None): "the mailbox is unavailable",
    (552, "5.3.4"): "the message is too large",
    (552, None): "the message exceeds the server's storage allocation",
    (553, None): "the address is not accepted",
    (554, None): "the server refused the message",
    (535, None): "the credentials were refused",
}


class ReplyClass(StrEnum):
    ACCEPTED = "accepted"
    TRANSIENT = "transient"  # try again later
    PERMANENT = "permanent"  # do not try again
    AUTHENTICATION = "authentication"  # the credentials were refused: the mailbox needs attention


@dataclass(frozen=True)
class SmtpReply:
    """One reply of the server: its code and text (the server's words, trimmed to one line)."""

    code: int
    text: str = ""

    @property
    def enhanced(self) -> str | None:
        """The RFC 3463 enhanced status code (``5.1.1``) at the start of the text, if any."""
        match = _ENHANCED.match(self.text)
        return ".".join(match.groups()) if match else None

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


def classify(reply: SmtpReply) -> ReplyClass:
    enhanced = reply.enhanced
    if 200 <= reply.code < 400:
        return ReplyClass.ACCEPTED
    if reply.code in AUTH_REPLY_CODES or enhanced in AUTH_ENHANCED:
        return ReplyClass.AUTHENTICATION
    if enhanced is not None and enhanced.split(".", 1)[1] == QUOTA_SUBJECT_DETAIL:
        return ReplyClass.TRANSIENT
    if 400 <= reply.code < 500:
        return ReplyClass.TRANSIENT
    return ReplyClass.PERMANENT


def meaning(reply: SmtpReply) -> str:
    """The reply in words, with the server's own text: "the mailbox does not exist (550 5.1.1 ...)".

    A recipient's result keeps every answer, the accepting ones too: those read "accepted (250 ...)".
    """
    if classify(reply) is ReplyClass.ACCEPTED:
        return f"accepted ({reply})"
    words = MEANINGS.get((reply.code, reply.enhanced)) or MEANINGS.get((reply.code, None))
    if words is None:
        words = "the server refused, try later" if 400 <= reply.code < 500 else "the server refused"
    return f"{words} ({reply})"


def backoff(attempt: int, minutes: Sequence[int]) -> timedelta:
    """How long an email waits after its ``attempt``-th failed attempt (1-based); the last step repeats."""
    if not minutes:
        raise ValueError("a back-off needs at least one step")
    return timedelta(minutes=minutes[min(max(attempt, 1), len(minutes)) - 1])
