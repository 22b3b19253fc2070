"""What an Exchange item gets on the server once its outcome is stored (R-REC-7, R-REC-9) — pure.

A tracked item gets the "Tracked to Dynamics 365" category when the organization tracks by category,
so users see in Outlook what the CRM holds. An item that could not be tracked for a reason an
administrator must look at (unreadable, too large, no valid sender) gets the "Undeliverable" category
and, when the profile says so, moves to an "Undeliverable" folder. Items the filtering method simply did
not want are left alone. Marks are cosmetic: they are applied after the email is stored, in bulk, and a
failure to apply them never loses or repeats an email.
"""

from __future__ import annotations

from sync.incoming.reasons import Reason
from sync.mail.port import RemoteMessage, ServerMark

TRACKED_CATEGORY = "Tracked to Dynamics 365"
UNDELIVERABLE_CATEGORY = "Tracked to Dynamics 365 (Undeliverable)"
UNDELIVERABLE_FOLDER = "Undeliverable"

UNDELIVERABLE_REASONS = frozenset({Reason.QUARANTINED, Reason.TOO_LARGE, Reason.INVALID_SENDER})


def mark_for(message: RemoteMessage, reason: Reason, *, categorize: bool, move_undelivered: bool) -> ServerMark | None:
    """The mark for ``message`` after ``reason``, or None when it stays as it is."""
    if reason.accepted or reason in (Reason.ALREADY_PROCESSED, Reason.DUPLICATE):  # the CRM holds it
        if categorize and TRACKED_CATEGORY not in message.categories:
            return ServerMark(message, category=TRACKED_CATEGORY)
        return None
    if reason in UNDELIVERABLE_REASONS:
        category = UNDELIVERABLE_CATEGORY if UNDELIVERABLE_CATEGORY not in message.categories else None
        if category is None and not move_undelivered:
            return None
        return ServerMark(message, category=category, move_to_undeliverable=move_undelivered)
    return None
