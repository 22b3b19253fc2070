"""Dynamics' email messages for one message at a time: DeliverIncomingEmail, DeliverPromoteEmail, CheckPromoteEmail.

- **DeliverIncomingEmail**: the message goes through a mailbox's incoming pipeline exactly as if the mailbox's
  cycle had fetched it (filtering, correlation, dedupe); created as SYSTEM (R-REC-12).
- **DeliverPromoteEmail**: the user tracks this message now, with an optional regarding record, what the App for
  Outlook's "Track" does. It is tracked whatever the user's filtering and start date, in the user's mailbox,
  created by that user (R-REC-12). A message tracked already (by any mailbox, or sent by the CRM) is never
  tracked twice: the email id comes from the same key as automatic tracking's (``sync/incoming/dedupe.py``), and
  the existing email is answered, set regarding the record the user chose.
- **CheckPromoteEmail**: whether a message is still to be tracked, from its Message-ID (reads only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sync.errors import ValidationFailed
from sync.incoming.dedupe import email_id_for, message_key, normalize_message_id
from sync.incoming.processor import IncomingProcessor, ItemOutcome
from sync.incoming.reasons import Reason
from sync.incoming.sent_lookup import indexed_email, named_email
from sync.mail.mime_guards import MessageOverLimit
from sync.mail.port import FolderContext, FolderRole
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ServerType
from sync.settings import Settings
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store

PROMOTE_CONTEXT_KEY = "promote"  # no folder and no watermark: the message is handed in


@dataclass(frozen=True)
class PromoteCheck:
    """CheckPromoteEmail's answer."""

    should_promote: bool
    reason: Reason  # ALREADY_PROCESSED when tracked already, PROMOTED when it would be tracked now
    message_key: str
    email_id: str | None = None  # the email that tracks it already


class SingleMessages:
    """Delivers or checks one handed-in message through the incoming pipeline of a mailbox."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def deliver_incoming(self, mailbox_id: str, raw: bytes, received_on: datetime | None = None) -> ItemOutcome:
        """DeliverIncomingEmail: what the mailbox's cycle would do with this message, done."""
        mailbox = self.store.get_mailbox(mailbox_id)
        return self._run(mailbox, raw, received_on, FolderContext(PROMOTE_CONTEXT_KEY))

    def deliver_promote(
        self, user_id: str, raw: bytes, regarding: EntityRef | None = None, received_on: datetime | None = None
    ) -> ItemOutcome:
        """DeliverPromoteEmail: the user tracks the message now, regarding ``regarding`` when given."""
        user = EntityRef(type=EntityType.SYSTEM_USER, id=user_id)
        self.store.get_user(user_id)  # NotFound for an unknown user
        if regarding is not None and self.store.find_record(regarding.type, regarding.id) is None:
            raise ValidationFailed("no record of this table has this id", field="regarding.id")
        mailbox = self.store.find_mailbox(owned_mailbox_id(user))
        if mailbox is None:
            raise ValidationFailed("the user has no mailbox to track email with", field="user_id")
        context = FolderContext(PROMOTE_CONTEXT_KEY, FolderRole.PROMOTED, regarding)
        return self._run(mailbox, raw, received_on, context)

    def check_promote(self, message_id: str) -> PromoteCheck:
        """CheckPromoteEmail: a message tracked already (received, or sent by the CRM) need not be tracked again."""
        if not normalize_message_id(message_id):
            raise ValidationFailed("is not a Message-ID", field="message_id")
        key = message_key(message_id, b"")
        # sent by the CRM (the Message-ID names the email), received, or sent before Message-IDs named emails
        tracked = named_email(self.store, message_id) or self.store.emails.find(email_id_for(key), "email")
        indexed = indexed_email(self.store, message_id) if tracked is None else None
        email_id = tracked.id if tracked else (indexed.email_id if indexed else None)
        if email_id is not None:
            return PromoteCheck(False, Reason.ALREADY_PROCESSED, key, email_id)
        return PromoteCheck(True, Reason.PROMOTED, key)

    def _run(self, mailbox: Mailbox, raw: bytes, received_on: datetime | None, folder: FolderContext) -> ItemOutcome:
        profile = self.store.find_profile(mailbox.email_server_profile_id or "") or EmailServerProfile(
            name="(no profile)", server_type=ServerType.IMAP_SMTP
        )  # the profile only contributes its start date to a handed-in message
        processor = IncomingProcessor(self.store, self.settings, self.store.get_organization(), mailbox, profile)
        try:
            return processor.process(raw, received_on, folder=folder)
        except MessageOverLimit as exc:
            raise ValidationFailed(f"the message is over a limit: {exc}", field="mime") from None
