"""Our Message-IDs name the email they belong to: ``<{email id}@{sender's domain}>``.

SendEmail gives every email it sends this Message-ID (``compose.message_id_for``, the same for every
attempt). Whoever later meets the Message-ID (a reply's In-Reply-To, the Sent Items copy, a message a user
tracks) reads the email itself with one point read, instead of an index row written for it at send time.
A Message-ID someone else made may look the same (many clients put a UUID in the local part): a reader
checks that the email it finds carries exactly this Message-ID.
"""

from __future__ import annotations

import uuid

from sync.incoming.dedupe import normalize_message_id


def email_id_named_by(message_id: str | None) -> str | None:
    """The email id a Message-ID of our shape names (its local part is an email id), else None."""
    normalized = normalize_message_id(message_id)
    if not normalized:
        return None
    local, at, _ = normalized.rpartition("@")
    if not at or not is_email_id(local):
        return None
    return local


def is_email_id(value: str) -> bool:
    """Whether ``value`` has exactly the shape of an email activity's id (a UUID in canonical form)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def same_message_id(a: str | None, b: str | None) -> bool:
    """Equal as Message-IDs: brackets and surrounding space aside, the domain compared case-folded."""
    return normalize_message_id(a) is not None and normalize_message_id(a) == normalize_message_id(b)
