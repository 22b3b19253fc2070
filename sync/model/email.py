"""Email activity, its parties and attachment metadata (spec §1.5, §1.6).

Bodies and attachment bytes live in Blob storage; the activity keeps pointers (:class:`BlobRef`).
Parties are kept on the activity itself, so one Table write stores an email with all its parties.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sync.model.base import Entity
from sync.model.fields import (
    EntityRef,
    Str36,
    Str50,
    Str100,
    Str200,
    Str250,
    Str256,
    Str320,
    Str500,
    Str800,
    Str1024,
    Str2048,
)
from sync.model.options import (
    EMAIL_STATUS_STATE,
    ActivityState,
    CorrelationMethod,
    EmailDirection,
    EmailNotification,
    EmailStatus,
    ParticipationType,
    Priority,
)

MAX_INLINE_BODY_CHARS = 200_000  # 400 KB in UTF-16: the row stays well under the 1 MiB entity limit
MAX_TEXT_BODY_CHARS = 100_000  # the plain-text alternative of an outgoing email shares the row with the HTML


class BlobRef(BaseModel):
    """Where bytes live in Blob storage."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    container: Str100
    """The Blob container."""
    name: Str1024
    """The blob's name."""
    size: int = Field(ge=0)
    """Bytes."""
    content_type: Str256 = "application/octet-stream"
    """The MIME type."""


class ActivityParty(BaseModel):
    """A sender or recipient of an activity; ``party`` is None when the address is unresolved (R-RES-6)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    participation: ParticipationType
    """The party's role: sender, to_recipient, cc_recipient, bcc_recipient, organizer, required_attendee..."""
    party: EntityRef | None = None
    """The record the address resolved to; none when unresolved."""
    address_used: Str320 | None = None
    """The address used (the raw address of an unresolved party)."""
    address_used_column_number: int | None = Field(default=None, ge=1)
    """Which of the record's email columns matched (1 = the first)."""
    unresolved_party_name: Str200 | None = None
    """The display name of an unresolved address."""
    display_name: Str200 | None = None  # the name outgoing headers show, captured when the party is set
    """The name outgoing headers show."""

    @property
    def is_resolved(self) -> bool:
        return self.party is not None


class AttachmentMeta(BaseModel):
    """One attachment (``activitymimeattachment``): name and size here, bytes in Blob."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    file_name: Str256
    """The file name."""
    mime_type: Str256 = "application/octet-stream"
    """The MIME type."""
    size: int = Field(ge=0)
    """Bytes."""
    content_id: Str256 | None = None
    """The Content-ID an inline image is referred to by."""
    is_inline: bool = False
    """Shown in the body rather than as an attachment."""
    blob: BlobRef | None = None  # None when the attachment was blocked or not saved
    """Where the bytes are kept; none when the attachment was blocked or not saved."""


class RecipientStatus(IntEnum):
    """How one recipient of an outgoing email fared (ours: Dynamics keeps no per-recipient result)."""

    ACCEPTED = 1  # the server took the message for this recipient: never sent to it again
    REFUSED_TRANSIENT = 2  # 4xx or a lost connection: tried again with the email's back-off
    REFUSED_PERMANENT = 3  # 5xx for this recipient: never tried again
    UNKNOWN = 4  # the connection was lost after the message was handed over: not sent again automatically


class RecipientResult(BaseModel):
    """The last answer the mail server gave for one envelope recipient."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    address: Str320
    """The envelope recipient."""
    status: RecipientStatus
    """How the mail server answered for this recipient."""
    code: int | None = None  # the SMTP reply code, when there was one
    """The SMTP reply code, when there was one."""
    reply: Str500 | None = None
    """The mail server's reply text."""
    attempt: int = Field(default=0, ge=0)  # the delivery attempt that produced it
    """The delivery attempt that gave this answer."""
    on: datetime | None = None
    """When the answer came."""


class Email(Entity):
    """An email activity, incoming or outgoing."""

    subject: Str800 = ""
    """The subject."""
    direction: EmailDirection
    """incoming or outgoing."""
    status: EmailStatus = EmailStatus.DRAFT
    """Where the email is: draft, completed, sent, received, canceled, pending_send, sending, failed. Default: draft."""
    description: str | None = Field(default=None, max_length=MAX_INLINE_BODY_CHARS)  # HTML body, in the row
    """The HTML body."""
    body_blob: BlobRef | None = None  # a body too long for the row is kept in Blob instead (N-16)
    """Where a body too long for the record is kept."""
    body_preview: Str2048 = ""
    """The start of the body as text."""
    mime_type: Str256 | None = None
    """The MIME type of the original message."""

    parties: list[ActivityParty] = Field(default_factory=list)
    """Sender and recipients, each resolved to a record where possible."""
    sender: Str250 | None = None  # raw From address
    """The From address as received."""
    to_recipients: Str500 | None = None  # raw To addresses
    """The To addresses as received."""
    submitted_by: Str250 | None = None
    """The Sender address (who submitted it for the From address)."""
    is_duplicate_sender_unresolved: bool = False
    """The sender matched several records and was left unresolved."""

    mailbox_ids: list[Str36] = Field(default_factory=list)  # every mailbox that received it, the tracking one first
    """Every mailbox that received it, the tracking one first."""
    message_id: Str320 | None = None
    """The Message-ID header."""
    in_reply_to: Str320 | None = None
    """The In-Reply-To header."""
    references: list[Str320] = Field(default_factory=list)
    """The References header's Message-IDs."""
    conversation_index: Str2048 | None = None
    """Exchange's conversation index."""
    tracking_token: Str50 | None = None
    """The tracking token in the subject."""
    internet_message_headers: Str500 | None = None
    """Selected headers, as JSON."""

    correlation_method: CorrelationMethod = CorrelationMethod.NONE
    """How the email was linked to an earlier one. Default: none."""
    correlated_activity_id: Str36 | None = None
    """The earlier email it was correlated with."""
    correlated_subject_changed: bool = False
    """The subject changed from the correlated email's."""
    parent_activity_id: Str36 | None = None
    """The email this one answers or forwards."""
    regarding: EntityRef | None = None
    """The record the email is about."""
    accepting_entity: EntityRef | None = None
    """The user or queue whose filtering method accepted the email."""
    receiving_mailbox_id: Str36 | None = None
    """The mailbox that tracked it."""
    sender_mailbox_id: Str36 | None = None
    """The mailbox that sends it (outgoing)."""
    owner: EntityRef | None = None
    """The user or queue that owns the email."""
    created_by: EntityRef | None = None  # R-REC-12
    """Who created it: SYSTEM (id ``system``) for automatic tracking, the user who tracked it from Outlook."""
    modified_by: EntityRef | None = None
    """Who changed it last: SYSTEM for synchronization, else the user whose correction it was."""

    delivery_attempts: int = Field(default=0, ge=0, le=1_000_000_000)  # N-34
    """Delivery attempts so far."""
    delivery_priority: Priority = Priority.NORMAL
    """The priority it is sent with. Default: normal."""
    priority: Priority = Priority.NORMAL
    """The email's importance: for tracked mail, as the sender marked it (Importance, X-Priority). Default: normal."""
    delayed_email_send_time: datetime | None = None
    """Not sent before this time."""
    postpone_email_processing_until: datetime | None = None
    """The next delivery attempt is not before this time."""
    sent_on: datetime | None = None
    """When it was sent."""
    received_on: datetime | None = None
    """When it was received."""
    send_attempt_id: Str36 | None = None
    """The delivery attempt that holds the email while it is sending."""
    send_lease_expires_on: datetime | None = None  # while Sending: the claim of send_attempt_id holds until then
    """When that attempt's claim lapses."""
    recipient_results: list[RecipientResult] = Field(default_factory=list)  # outgoing: per envelope recipient
    """The mail server's last answer for each envelope recipient."""
    last_send_error: Str2048 | None = None
    """Why the last delivery attempt failed."""
    verify_sent_items: bool = False  # Exchange: an attempt's outcome was lost; Sent Items decides before a resend
    """Exchange: an attempt's outcome was lost; Sent Items is checked before sending again."""
    text_body: str | None = Field(default=None, max_length=MAX_TEXT_BODY_CHARS)  # outgoing plain-text alternative
    """The plain-text body sent with the HTML."""
    notifications: EmailNotification = EmailNotification.NONE
    """What was left out when tracking it: attachments_not_saved or truncated_body. Default: none."""
    attachments: list[AttachmentMeta] = Field(default_factory=list)
    """The attachments (the bytes are in Blob storage)."""

    @property
    def state(self) -> ActivityState:
        """The state a status belongs to (statuscode decides statecode)."""
        return EMAIL_STATUS_STATE[self.status]

    @property
    def attachment_count(self) -> int:
        return len(self.attachments)

    def parties_of(self, participation: ParticipationType) -> list[ActivityParty]:
        return [p for p in self.parties if p.participation is participation]

    @model_validator(mode="after")
    def _one_sender(self) -> Email:
        if len(self.parties_of(ParticipationType.SENDER)) > 1:
            raise ValueError("an email has at most one sender party")
        return self
