"""Each tracking reason in a few words an administrator reads at a glance — pure.

The reason's code name (``NoCorrelationMatch``) stays what alerts, logs and the API carry; pages show these
words with the code beside them. The wording is the short form of the explanations the "Why was this email not
tracked?" page gives (:mod:`sync.insights.explain`), which say the same at length with what would track it.
"""

from __future__ import annotations

from sync.incoming.reasons import Reason

WORDS: dict[Reason, str] = {
    Reason.UNKNOWN: "Reason not recorded",
    Reason.DUPLICATE: "Already tracked by another mailbox",
    Reason.NO_CORRELATION_MATCH: "Not accepted by the owner's filtering method",
    Reason.CORRELATION_MATCH: "Reply to an email tracked in CRM",
    Reason.NO_RECIPIENT_MATCH: "No CRM user or queue among the recipients",
    Reason.INTERNAL_EMAIL_REJECT: "Internal email: the sender's copy is tracked",
    Reason.SENDER_MATCH: "Sent by a CRM record",
    Reason.ACCEPT_ALL: "The filtering method accepts all email",
    Reason.INVALID_SENDER: "No valid From address",
    Reason.INVALID_FORWARD_MAIL_ITEM: "Not forwarded as an attachment by a forward-mailbox user",
    Reason.BOUNCE_NOT_CORRELATED: "Delivery failure report about no CRM email",
    Reason.LOOP_DETECTED: "Mail loop, or this service's own message",
    Reason.TOO_LARGE: "Larger than the size limit",
    Reason.BEFORE_START_DATE: "Received before the mailbox's start date",
    Reason.QUARANTINED: "Processing failed: quarantined",
    Reason.ALREADY_PROCESSED: "Already handled by this mailbox",
    Reason.FOLDER_TRACKED: "In a tracked folder",
    Reason.CATEGORY_TRACKED: "Has the \u201cTracked to Dynamics 365\u201d category",
    Reason.MESSAGE_GONE: "Deleted or moved on the mail server before it was read",
    Reason.PROMOTED: "Tracked by the user",
    Reason.RETRY_PENDING: "Processing failed: tried again later",
}
BY_LABEL = {reason.label: reason for reason in Reason}


def reason_words(label: str) -> str:
    """The words for a reason's code name (``InvalidSender``); a name this version does not know stays as it is."""
    reason = BY_LABEL.get(label)
    return WORDS[reason] if reason is not None else label
