"""Alert emails (R-ERR-5, R-ERR-7) go out through the project's own outgoing path.

A notification is an ordinary outgoing email activity: a Draft from the alert sender (the user or queue whose
address is the ``SYNC_ALERT_EMAIL_SENDER`` setting), then SendEmail, which writes Pending Send and puts it on
the ``outgoing-mail`` queue; the sender delivers it exactly once like any other email. The caller decides
*when* to notify (once per episode); this module only sends. A notification that cannot be sent (no sender
configured, the sender unknown, the address refused) is said on the profile's alerts wall instead of vanishing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sync.errors import SyncError
from sync.health.alerts import Alerts, AlertText
from sync.model import Email, OrganizationSettings
from sync.model.fields import EntityRef, utcnow
from sync.model.options import AlertLevel, EntityType
from sync.outgoing.messages import OutboxQueue, WorkSigner
from sync.outgoing.submit import DraftSpec, OutgoingEmails, PartyInput
from sync.settings import Settings
from sync.store.names import Queue
from sync.store.store import Store

log = logging.getLogger(__name__)

CODE_ALERT_EMAIL_NOT_SENT = 8005_0011
SENDER_TYPES = (EntityType.SYSTEM_USER, EntityType.QUEUE)


@dataclass(frozen=True)
class Notice:
    """One alert email: to whom, about what, and which record's wall hears if it cannot be sent."""

    to: str
    subject: str
    body: str
    about: EntityRef


class NotificationNotSent(SyncError):
    """The alert email could not be handed to the outgoing path."""


class AlertMailer:
    def __init__(self, store: Store, settings: Settings, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.sender_address = settings.alert_email_sender
        queue = OutboxQueue(store.account.queue(Queue.OUTGOING_MAIL))
        self.emails = OutgoingEmails(store, queue, WorkSigner(settings.aes_key()), clock=clock)

    def send(self, org: OrganizationSettings, notice: Notice) -> Email | None:
        """Pending Send and queued; None (and an alert on ``notice.about``) when it cannot be sent."""
        try:
            draft = self.emails.create_draft(
                DraftSpec(
                    sender=self._sender(), subject=notice.subject, to=[PartyInput(address=notice.to)],
                    text_body=notice.body,
                )
            )  # fmt: skip
            return self.emails.send(draft.id)
        except SyncError as exc:
            log.warning("alert email to %s not sent: %s", notice.to, exc)
            Alerts(self.store).raise_alert(org, not_sent_text(notice, str(exc)), notice.about)
            return None

    def _sender(self) -> EntityRef:
        if not self.sender_address:
            raise NotificationNotSent("no alert email sender is configured (setting SYNC_ALERT_EMAIL_SENDER)")
        for match in self.store.address_index.lookup(self.sender_address):
            if match.type in SENDER_TYPES and match.active:
                return EntityRef(type=match.type, id=match.id)
        raise NotificationNotSent(f"no active user or queue has the alert email sender's address {self.sender_address}")


def not_sent_text(notice: Notice, reason: str) -> AlertText:
    code = "AlertEmailNotSent"
    return AlertText(
        AlertLevel.WARNING,
        CODE_ALERT_EMAIL_NOT_SENT,
        code,
        f"The alert email {notice.subject!r} to {notice.to} could not be sent: {reason.rstrip('.')}. "
        f"Email Server Error Code: {code}",
        reason,
    )
