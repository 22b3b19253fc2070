"""Tracking tokens (R-COR-8..14, N-18..N-23) — pure.

A token is ``<prefix>:<online digit><user number><counter>``:

- the online/offline designator is always ``0`` (R-COR-10: one legacy digit, online);
- the user number is the deployment base plus the sending user's sequence, zero-padded to
  ``tracking_token_id_digits`` (R-COR-11: base 0 makes the first user ``001``);
- the counter is the organization's ``next_tracking_number``, zero-padded to ``tracking_counter_digits``
  and wrapping to 0 after all nines (R-COR-12: 999 -> 000).

Numbers wider than their digits keep their low digits, so a token always has the width that
:func:`sync.incoming.correlate.token_pattern` looks for; tokens are hints, not unique keys (R-COR-3).
"""

from __future__ import annotations

from sync.model.organization import OrganizationSettings

ONLINE_DIGIT = "0"
SEPARATOR = " "  # between the subject and the appended token


def format_token(org: OrganizationSettings, user_sequence: int, counter: int) -> str:
    """The token for a user's sequence number and a counter value, in the organization's shape."""
    user_digits, counter_digits = org.tracking_token_id_digits, org.tracking_counter_digits
    user_number = (org.tracking_token_id_base + user_sequence) % 10**user_digits
    counter %= 10**counter_digits
    return f"{org.tracking_prefix}:{ONLINE_DIGIT}{user_number:0{user_digits}d}{counter:0{counter_digits}d}"


def take_counter(org: OrganizationSettings) -> int:
    """The counter value for the next token; advances ``next_tracking_number`` (mutates ``org``), wrapping."""
    modulus = int(10**org.tracking_counter_digits)
    value = org.next_tracking_number % modulus
    org.next_tracking_number = (value + 1) % modulus
    return value


def take_user_sequence(org: OrganizationSettings) -> int:
    """A new user's sequence number in tokens; advances ``next_tracking_user_number`` (mutates ``org``)."""
    value = org.next_tracking_user_number
    org.next_tracking_user_number = value + 1
    return value


def subject_with_token(subject: str, token: str | None, limit: int) -> str:
    """The subject as sent: the token at the end, the whole within ``limit`` characters (R-COR-13/14).

    When the token is shorter than the limit the subject is cut so subject, separator and token fit;
    when the token alone reaches the limit, the subject is cut to the limit and no token is added. A
    token already at the end of the subject (a resend) is not added twice.
    """
    if token is None:
        return subject[:limit]
    if subject.rstrip().upper().endswith(token.upper()):
        subject = subject.rstrip()[: -len(token)].rstrip()
    if len(token) >= limit:
        return subject[:limit]
    room = limit - len(token) - len(SEPARATOR)
    head = subject[: max(room, 0)].rstrip()
    return f"{head}{SEPARATOR}{token}" if head else token
