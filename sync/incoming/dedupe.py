"""The key that identifies one message across mailboxes (R-ACC-10): its Message-ID.

Message-IDs are compared without angle brackets and surrounding space; the domain part is case-folded
(RFC 5322 leaves the local part case-sensitive). A message without a Message-ID is keyed by a hash of
its bytes, so the same copy is still recognised when it is fetched twice.
"""

from __future__ import annotations

import hashlib
import uuid


def normalize_message_id(message_id: str | None) -> str | None:
    if not message_id:
        return None
    value = message_id.strip().strip("<>").strip()
    if not value:
        return None
    local, at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if at else value


def message_key(message_id: str | None, raw: bytes) -> str:
    normalized = normalize_message_id(message_id)
    if normalized:
        return "mid:" + normalized
    return "sha256:" + hashlib.sha256(raw).hexdigest()


_EMAIL_NAMESPACE = uuid.UUID("0b5c3f7e-4a2d-4f0e-9d61-2e8b7a9c1d44")


def email_id_for(key: str) -> str:
    """The id of the email a received message becomes: one message, one possible email row."""
    return str(uuid.uuid5(_EMAIL_NAMESPACE, key))
