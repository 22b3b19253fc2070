"""Why a message was or was not tracked: Dynamics' CheckIncomingEmail reason codes (R-ACC-9) and ours.

The Dynamics codes keep their numbers so administrators recognise them; the extra reasons this
service adds (bounces, loops, size, quarantine) carry negative numbers below Dynamics' ``-1 Unknown``.
"""

from __future__ import annotations

from enum import IntEnum


class Reason(IntEnum):
    UNKNOWN = -1
    DUPLICATE = 0
    NO_CORRELATION_MATCH = 1
    CORRELATION_MATCH = 2
    NO_RECIPIENT_MATCH = 3
    INTERNAL_EMAIL_REJECT = 4
    SENDER_MATCH = 5
    ACCEPT_ALL = 6
    INVALID_SENDER = 7
    # ours
    INVALID_FORWARD_MAIL_ITEM = -10  # R-FWD-8
    BOUNCE_NOT_CORRELATED = -11
    LOOP_DETECTED = -12
    TOO_LARGE = -13  # N-14 / R-IN-13
    BEFORE_START_DATE = -14  # R-IN-2/3
    QUARANTINED = -15
    ALREADY_PROCESSED = -16  # the same mailbox saw it before (a replay): nothing to do
    FOLDER_TRACKED = -17  # in a folder with a tracking rule: tracked whatever the filtering (R-FLT-5)
    CATEGORY_TRACKED = -18  # carries the "Tracked to Dynamics 365" category: tracked (R-IN-7)
    MESSAGE_GONE = -19  # deleted or moved on the server between listing and fetching
    PROMOTED = -20  # the user tracked it (DeliverPromoteEmail, the App for Outlook's "Track"): whatever the filtering
    RETRY_PENDING = -21  # processing failed; tried again in a later cycle (R-REC-9), its bytes kept meanwhile

    @property
    def accepted(self) -> bool:
        return self in (
            Reason.CORRELATION_MATCH,
            Reason.SENDER_MATCH,
            Reason.ACCEPT_ALL,
            Reason.FOLDER_TRACKED,
            Reason.CATEGORY_TRACKED,
            Reason.PROMOTED,
        )

    @property
    def settled(self) -> bool:
        """The message was tracked, or deliberately not tracked: a delete-after-processing mailbox may delete it.

        Not settled (kept on the server for an administrator or a later cycle): item failures such as a sender
        that cannot be read (a server's "cannot display" notice in place of the message is one), an invalid
        forward item, a message over the size limit, a quarantined one, one that vanished, an unknown outcome.
        """
        return self.accepted or self in (
            Reason.DUPLICATE,
            Reason.ALREADY_PROCESSED,
            Reason.NO_CORRELATION_MATCH,
            Reason.NO_RECIPIENT_MATCH,
            Reason.INTERNAL_EMAIL_REJECT,
            Reason.BOUNCE_NOT_CORRELATED,
            Reason.LOOP_DETECTED,
            Reason.BEFORE_START_DATE,
        )

    @property
    def label(self) -> str:
        """The Dynamics-style name (``NoCorrelationMatch``) shown to administrators."""
        return "".join(part.capitalize() for part in self.name.split("_"))
