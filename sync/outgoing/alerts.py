"""Alert texts of outgoing email (R-ERR-5/12..14, R-OUT-15/16), in Dynamics' wording.

Mailbox-level alerts regard the mailbox (one open alert per mailbox and code: a thousand emails stuck
behind one wrong password make one alert whose count grows); email-level alerts regard the email.
The wording encodes the class (R-ERR-13): transient ones end "The system will try to send email again
later.", permanent ones say the mailbox "has been disabled for sending email".
"""

from __future__ import annotations

from sync.health.alerts import AlertText
from sync.mailboxes.eligibility import Reason
from sync.model import Email, Mailbox
from sync.model.options import AlertLevel

# Codes: ours, next to the incoming ones (sync/health/alerts.py); the code name carries Dynamics' name.
CODE_OUTGOING_TRANSIENT = 8005_0101
CODE_OUTGOING_AUTH = 8005_0102
CODE_OUTGOING_PERMANENT = 8005_0103
CODE_OUTGOING_NOT_ELIGIBLE = 8005_0104
CODE_EMAIL_FAILED = 8005_0105
CODE_EMAIL_DELIVERY_UNKNOWN = 8005_0106
CODE_EMAIL_PARTIALLY_DELIVERED = 8005_0107

REASON_WORDS: dict[Reason, str] = {
    Reason.MAILBOX_INACTIVE: "the mailbox is inactive",
    Reason.NO_PROFILE: "the mailbox has no email server profile",
    Reason.PROFILE_INACTIVE: "its email server profile is inactive",
    Reason.CHANNEL_NOT_SERVER_SIDE_SYNC: "the organization does not process email with server-side synchronization",
    Reason.NO_EMAIL_ADDRESS: "the mailbox has no email address",
    Reason.DELIVERY_METHOD: "its outgoing email method is not server-side synchronization",
    Reason.NOT_ENABLED: "the mailbox is not enabled for sending email",
    Reason.NOT_APPROVED: "its email address is not approved",
    Reason.NOT_APPROVED_BY_O365_ADMIN: "its email address is not approved by a Microsoft 365 administrator",
    Reason.FORWARD_MAILBOX: "a forward mailbox does not send email",
    Reason.NOT_TESTED: "the mailbox has not passed Test & Enable for outgoing email (run it)",
}


def reasons_text(reasons: tuple[Reason, ...]) -> str:
    return "; ".join(REASON_WORDS.get(reason, reason.value) for reason in reasons)


def mailbox_failure(mailbox: Mailbox, profile_name: str, code: str, details: str, *, kind: str) -> AlertText:
    """``kind``: "transient" (R-OUT-16 connect failure), "authentication" or "permanent" (workload disabled)."""
    box = mailbox.name
    if kind == "authentication":
        text = (
            f"Email cannot be sent because the credentials specified for the mailbox {box} are incorrect or have "
            f"insufficient permissions. The mailbox {box} has been disabled for sending email and the owner of the "
            f"email server profile {profile_name} has been notified. Fix the credentials, then enable the mailbox "
            f"for email processing. Email Server Error Code: OutgoingEmailAuthenticationError"
        )
        return AlertText(AlertLevel.ERROR, CODE_OUTGOING_AUTH, code, text, details)
    if kind == "permanent":
        text = (
            f"Email cannot be sent for the mailbox {box} because an error occurred while connecting to the email "
            f"server. The mailbox {box} has been disabled for sending email and the owner of the email server "
            f"profile {profile_name} has been notified. Email Server Error Code: {code}"
        )
        return AlertText(AlertLevel.ERROR, CODE_OUTGOING_PERMANENT, code, text, details)
    text = (
        f"An error occurred in sending email for mailbox {box}. The owner of the associated email server profile "
        f"{profile_name} has been notified. The system will try to send email again later. "
        f"Email Server Error Code: {code}"
    )
    return AlertText(AlertLevel.WARNING, CODE_OUTGOING_TRANSIENT, code, text, details)


def not_eligible(mailbox: Mailbox, reasons: tuple[Reason, ...], subject: str) -> AlertText:
    why = reasons_text(reasons)
    code = "MailboxNotEligibleForOutgoingEmail"
    text = (
        f"Email cannot be sent from the mailbox {mailbox.name} because {why}. Email messages from this mailbox, such "
        f"as {subject!r}, stay Pending Send and are sent when the mailbox is approved, enabled and set to send email "
        f"with server-side synchronization. Email Server Error Code: {code}"
    )
    return AlertText(AlertLevel.WARNING, CODE_OUTGOING_NOT_ELIGIBLE, code, text, why)


def email_failed(email: Email, detail: str, *, attempts: int) -> AlertText:
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    code = "OutgoingEmailFailed"
    text = (
        f"The email message {email.subject!r} cannot be sent{tried}: {detail}. Correct it, then send it again. "
        f"Email Server Error Code: {code}"
    )
    return AlertText(AlertLevel.ERROR, CODE_EMAIL_FAILED, code, text, detail)


def partially_delivered(email: Email, detail: str) -> AlertText:
    code = "OutgoingEmailPartiallyDelivered"
    text = (
        f"The email message {email.subject!r} was sent, but not to every recipient: {detail}. "
        f"Email Server Error Code: {code}"
    )
    return AlertText(AlertLevel.WARNING, CODE_EMAIL_PARTIALLY_DELIVERED, code, text, detail)


def delivery_unknown(email: Email, detail: str) -> AlertText:
    code = "DeliveryStatusUnknown"
    text = (
        f"The email message {email.subject!r} may or may not have been delivered: the connection to the email "
        f"server was lost after the message was handed over ({detail}). It is not sent again automatically, so no "
        f"recipient gets it twice; check with the recipients before sending it again. Email Server Error Code: {code}"
    )
    return AlertText(AlertLevel.ERROR, CODE_EMAIL_DELIVERY_UNKNOWN, code, text, detail)
