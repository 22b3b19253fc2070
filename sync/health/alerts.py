"""Alerts (R-ERR-5/6/12..15, spec §1.10): one open alert per (record, code); repeats update it.

The texts reproduce Dynamics' wording, which encodes the error class: transient alerts end with
"The system will try to receive email again later."; permanent ones say the mailbox "has been disabled
for receiving email". Each carries the "Email Server Error Code" and details (R-ERR-14). Levels the
organization switched off are not written (R-ERR-6, R-ERR-15).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sync.errors import NotFound
from sync.health.server_text import one_server_line, printable, safe_code
from sync.model import Alert, Mailbox, OrganizationSettings
from sync.model.fields import EntityRef, utcnow
from sync.model.options import AlertLevel, EntityType
from sync.store.schema import alert_row_key
from sync.store.store import Store

# Alert codes: Dynamics' numbers where one exists; ours otherwise.
CODE_INCOMING_TRANSIENT = -2147220970  # UnknownIncomingEmailIntegrationError: unexpected error retrieving email
CODE_INCOMING_AUTH = 8005_0001
CODE_INCOMING_PERMANENT = 8005_0002
CODE_INCOMING_DISABLED_AFTER_RETRIES = 8005_0003
SECURE_CONNECTION_ADVICE = {  # what the profile owner should do, by error code
    "SecureConnectionFailed": "",
    "SecureConnectionRequired": "The email server accepts a login only over TLS: set the email server profile "
    "to implicit TLS or STARTTLS, then enable the mailbox for email processing. ",
}
SECURE_CONNECTION_CODES = frozenset(SECURE_CONNECTION_ADVICE)
CODE_ITEM_FAILED = 8005_0004
CODE_ADDRESS_NOT_APPROVED = 8005_0005
CODE_ACT_DISABLED = 8005_0006
CODE_ACT_TRANSIENT = 8005_0007
CODE_SCHEDULING_CONFLICT = -2147086315  # ExchangeSyncSchedulingConflictsError
CODE_INVALID_FORWARD_ITEM = 8005_0008  # R-FWD-8: InvalidForwardMailItem on a forward mailbox
CODE_ACT_OTHER_ORGANIZATION = 8005_0009  # R-TE-7: the Exchange mailbox syncs ACT with another organization


@dataclass(frozen=True)
class AlertText:
    level: AlertLevel
    code: int
    code_name: str
    text: str
    details: str


def incoming_failure_text(
    mailbox: Mailbox, profile_name: str, error_code: str, details: str, *, disabled: bool, authentication: bool
) -> AlertText:
    box = mailbox.name
    if authentication:
        return AlertText(AlertLevel.ERROR, CODE_INCOMING_AUTH, error_code,
                         f"Email cannot be received because the credentials specified for the mailbox {box} are "
                         f"incorrect or have insufficient permissions. The mailbox {box} has been disabled for "
                         f"receiving email and the owner of the email server profile {profile_name} has been notified. "
                         f"Fix the credentials, then enable the mailbox for email processing. "
                         f"Email Server Error Code: {error_code}", details)  # fmt: skip
    if disabled and error_code in SECURE_CONNECTION_CODES:  # R-ERR-12's wording; a configuration problem
        return AlertText(AlertLevel.ERROR, CODE_INCOMING_PERMANENT, error_code,
                         f"Email cannot be received for the mailbox {box} because an error occurred while establishing "
                         f"a secure connection to the email server. The mailbox {box} has been disabled for receiving "
                         f"email and the owner of the email server profile {profile_name} has been notified. "
                         f"{SECURE_CONNECTION_ADVICE[error_code]}Email Server Error Code: {error_code}",
                         details)  # fmt: skip
    if disabled:
        return AlertText(AlertLevel.ERROR, CODE_INCOMING_PERMANENT, error_code,
                         f"Email cannot be received for the mailbox {box} because an error occurred while connecting "
                         f"to the email server. The mailbox {box} has been disabled for receiving email and the owner "
                         f"of the email server profile {profile_name} has been notified. "
                         f"Email Server Error Code: {error_code}", details)  # fmt: skip
    return AlertText(AlertLevel.WARNING, CODE_INCOMING_TRANSIENT, error_code,
                     f"An unknown error occurred while receiving email through the mailbox {box}. The owner of the "
                     f"associated email server profile {profile_name} has been notified. The system will try to "
                     f"receive email again later. Email Server Error Code: {error_code}", details)  # fmt: skip


def act_failure_text(
    mailbox: Mailbox, profile_name: str, error_code: str, details: str, *, disabled: bool
) -> AlertText:
    """R-ERR-12/13, R-ACT-25: ACT's own wording, transient or disabling."""
    box = mailbox.name
    if disabled:
        return AlertText(AlertLevel.ERROR, CODE_ACT_DISABLED, error_code,
                         f"Appointments, contacts, and tasks can't be synchronized for the mailbox {box}. The "
                         f"mailbox {box} has been disabled for synchronizing appointments, contacts, and tasks and "
                         f"the owner of the email server profile {profile_name} has been notified. Email Server Error "
                         f"Code: {error_code}", details)  # fmt: skip
    return AlertText(AlertLevel.WARNING, CODE_ACT_TRANSIENT, error_code,
                     f"Appointments, contacts, and tasks couldn't be synchronized for the mailbox {box}. The owner of "
                     f"the associated email server profile {profile_name} has been notified. The system will try "
                     f"again later. Email Server Error Code: {error_code}", details)  # fmt: skip


def act_other_organization_text(mailbox: Mailbox, profile_name: str, error_code: str, details: str) -> AlertText:
    """R-TE-7: Dynamics' 'configured with another organization' alert, with the checkbox that overrides it."""
    box = mailbox.name
    return AlertText(AlertLevel.ERROR, CODE_ACT_OTHER_ORGANIZATION, error_code,
                     f"Appointments, contacts, and tasks can't be synchronized for the mailbox {box} because the "
                     f"mailbox is configured with another organization. The mailbox {box} has been disabled for "
                     f"synchronizing appointments, contacts, and tasks and the owner of the email server profile "
                     f"{profile_name} has been notified. To synchronize it with this organization, select \"Sync "
                     f"items with Exchange from this org only, even if Exchange was set to sync with a different "
                     f"org\" (act_sync_this_org_only_override), then run Test & Enable for the mailbox. Email Server "
                     f"Error Code: {error_code}", details)  # fmt: skip


def scheduling_conflict_text(subject: str, user_name: str, details: str) -> AlertText:
    """R-ACT-24: an appointment tracked in Outlook overlaps one of the user's; the user decides."""
    return AlertText(
        AlertLevel.WARNING, CODE_SCHEDULING_CONFLICT, "ExchangeSyncSchedulingConflictsError",
        f"A scheduling conflict was found when saving appointment {subject} from Exchange to the CRM because "
        f"{user_name} is unavailable at this time. Do you want to ignore the conflict and save anyway?", details,
    )  # fmt: skip


def not_approved_text(mailbox: Mailbox) -> AlertText:
    """R-ELIG-8: the address is not approved, so the mailbox was disabled for receiving."""
    return AlertText(
        AlertLevel.ERROR, CODE_ADDRESS_NOT_APPROVED, "EmailAddressNotApproved",
        f"Email cannot be received for the mailbox {mailbox.name} because the email address "
        f"{mailbox.email_address} is not approved and the mailbox has been disabled. Approve the email address, "
        f"then enable the mailbox for email processing.",
        "approval is required by the organization (Process emails only for approved users/queues)",
    )  # fmt: skip


def invalid_forward_text(mailbox: Mailbox, forwarder: str, why: str, subject: str) -> AlertText:
    """R-FWD-8: the forward mailbox got an item it cannot track; the forwarding user or queue must be fixed."""
    code = "InvalidForwardMailItem"
    return AlertText(AlertLevel.WARNING, CODE_INVALID_FORWARD_ITEM, code,
                     f"An email message ({subject!r}) forwarded by {forwarder or 'an unknown sender'} to the forward "
                     f"mailbox {mailbox.name} was not processed because {why}. Forward email messages as attachments, "
                     f"from a user or queue whose incoming email method is Forward Mailbox. "
                     f"Email Server Error Code: {code}", why)  # fmt: skip


def level_enabled(org: OrganizationSettings, level: AlertLevel) -> bool:
    return {
        AlertLevel.ERROR: org.generate_alerts_for_errors,
        AlertLevel.WARNING: org.generate_alerts_for_warnings,
        AlertLevel.INFORMATION: org.generate_alerts_for_information,
    }[level]


class Alerts:
    def __init__(self, store: Store) -> None:
        self.store = store

    def raise_alert(
        self,
        org: OrganizationSettings,
        alert: AlertText,
        regarding: EntityRef,
        *,
        mailbox_id: str | None = None,
        profile_id: str | None = None,
        email_id: str | None = None,
    ) -> Alert | None:
        """Write the alert, or bump the open one with the same (record, code); None if the level is off."""
        if not level_enabled(org, alert.level):
            return None
        alert = _shown_safely(alert)
        now = utcnow()

        def bump(existing: Alert) -> None:
            existing.text = alert.text[:2000]
            existing.error_details = alert.details[:2048]
            existing.last_seen_on = now
            existing.count += 1
            existing.dismissed = False

        try:
            return self.store.alerts.modify(regarding.id, alert_row_key(alert.code), bump)
        except NotFound:
            pass
        record = Alert(level=alert.level, code=alert.code, code_name=alert.code_name[:256], text=alert.text[:2000],
                       error_details=alert.details[:2048], regarding=regarding, mailbox_id=mailbox_id,
                       profile_id=profile_id, email_id=email_id, first_seen_on=now, last_seen_on=now)  # fmt: skip
        return self.store.alerts.upsert(record)

    def for_mailbox(self, mailbox_id: str) -> list[Alert]:
        return list(self.store.alerts.partition(mailbox_id))


def _shown_safely(alert: AlertText) -> AlertText:
    """Every reader sees alerts: one printable line of details, a printable text, an identifier as code."""
    return replace(
        alert, code_name=safe_code(alert.code_name), text=printable(alert.text), details=one_server_line(alert.details)
    )


def mailbox_ref(mailbox: Mailbox) -> EntityRef:
    return EntityRef(type=EntityType.MAILBOX, id=mailbox.id)
