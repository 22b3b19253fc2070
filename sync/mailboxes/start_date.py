"""R-IN-4: how far back a "process email received after" date may go, and what moving it back does — pure.

Dynamics bounds the date an administrator may choose by ``ProcessEmailSinceMaximumDaysAllowed``
(``SYNC_PROCESS_SINCE_MAX_DAYS`` here, 90 days by default): a profile's or a mailbox's date further back is
refused when it is written, with the earliest allowed date in the answer. A date keeps its value afterwards
(it was allowed when it was set), as in Dynamics.

Moving a mailbox's effective start (the later of its own and its profile's date) back makes the Inbox be
read again from the start: the mailbox's Inbox watermark is reset, so the messages received after the new
date that the old one skipped are processed now, and the ones tracked already come back as
``AlreadyProcessed`` (the message index remembers them). Moving it forward needs nothing: later cycles skip
what is now before the start. A cycle running at the moment of the change still checkpoints the watermark it
holds: re-run Test & Enable (with the start date) if the mailbox was syncing then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sync.errors import ValidationFailed
from sync.model import EmailServerProfile, Mailbox
from sync.model.mailbox import FolderWatermark

INBOX = "INBOX"  # the root Inbox's watermark key, for every server type


def check_not_too_old(value: datetime | None, *, now: datetime, max_days: int, field: str) -> None:
    """Refuse a start date more than ``max_days`` before ``now`` (ProcessEmailSinceMaximumDaysAllowed)."""
    earliest = now - timedelta(days=max_days)
    if value is not None and value < earliest:
        raise ValidationFailed(
            f"must be at most {max_days} days ago (SYNC_PROCESS_SINCE_MAX_DAYS): {earliest.isoformat()} or later",
            field=field,
        )


def effective_start(mailbox: Mailbox, profile: EmailServerProfile | None) -> datetime | None:
    """R-IN-2/3: the later of the profile's and the mailbox's dates."""
    dates = [d for d in (profile.process_emails_received_after if profile else None,
                         mailbox.process_email_received_after) if d]  # fmt: skip
    return max(dates) if dates else None


def moved_back(before: datetime | None, after: datetime | None) -> bool:
    """The effective start now lets in mail it kept out: earlier, or no start at all."""
    return before is not None and (after is None or after < before)


def reread_inbox(mailbox: Mailbox) -> None:
    """Reset the Inbox watermark (deletions still owed to the server are kept)."""
    inbox = mailbox.watermarks.get(INBOX)
    if inbox is None:
        return
    mailbox.watermarks = {
        **mailbox.watermarks,
        INBOX: FolderWatermark(folder=INBOX, pending_deletes=inbox.pending_deletes),
    }


def apply_mailbox_change(
    stored: Mailbox, changed: Mailbox, profiles: tuple[EmailServerProfile | None, EmailServerProfile | None], *,
    now: datetime, max_days: int,
) -> bool:  # fmt: skip
    """Check a changed mailbox date and reset ``changed``'s Inbox watermark when its effective start moved back;
    whether it did (``profiles``: the mailbox's profile before and after the change)."""
    if changed.process_email_received_after != stored.process_email_received_after:
        check_not_too_old(
            changed.process_email_received_after, now=now, max_days=max_days, field="process_email_received_after"
        )
    if not moved_back(effective_start(stored, profiles[0]), effective_start(changed, profiles[1])):
        return False
    reread_inbox(changed)
    return True
