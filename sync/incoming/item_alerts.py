"""The information alert for a message without a valid sender (R-IN-14) — pure.

Dynamics logs an information-level alert when an incoming message has no valid From address (Outlook's
"Clutter" notices are the common case) and says it is safe to ignore. One open alert per mailbox: a repeat
updates it with the latest message's subject and counts it.
"""

from __future__ import annotations

from sync.health.alerts import CODE_ITEM_FAILED, AlertText
from sync.model import Mailbox
from sync.model.options import AlertLevel

INVALID_SENDER = "InvalidSender"


def invalid_sender_text(mailbox: Mailbox, subject: str) -> AlertText:
    return AlertText(
        AlertLevel.INFORMATION, CODE_ITEM_FAILED, INVALID_SENDER,
        f"An error occurred while creating the incoming email {subject} in Microsoft Dynamics 365 for the mailbox "
        f"{mailbox.name}.", f"{INVALID_SENDER}: the message has no valid From address",
    )  # fmt: skip
