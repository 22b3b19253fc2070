"""Email activity, its parties and attachment metadata (spec §1.5, §1.6).

Bodies and attachment bytes live in Blob storage; the activity keeps pointers (:class:`BlobRef`).
Parties are kept on the activity itself, so one Table write stores an email with all its parties.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from pydantic import BaseModel, Field, model_validator

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

    container: Str100
    name: Str1024
    size: int = Field(ge=0)
    content_type: Str256 = "application/octet-stream"


class ActivityParty(BaseModel):
    """A sender or recipient of an activity; ``party`` is None when the address is unresolved (R-RES-6)."""

    participation: ParticipationType
    party: EntityRef | None = None
    address_used: Str320 | None = None
    address_used_column_number: int | None = Field(default=None, ge=1)
    unresolved_party_name: Str200 | None = None
    display_name: Str200 | None = None  # the name outgoing headers show, captured when the party is set

    @property
    def is_resolved(self) -> bool:
        return self.party is not None


class AttachmentMeta(BaseModel):
    """One attachment (``activitymimeattachment``): name and size here, bytes in Blob."""

    file_name: Str256
    mime_type: Str256 = "application/octet-stream"
    size: int = Field(ge=0)
    content_id: Str256 | None = None
    is_inline: bool = False
    blob: BlobRef | None = None  # None when the attachment was blocked or not saved


class RecipientStatus(IntEnum):
    """How one recipient of an outgoing email fared (ours: Dynamics keeps no per-recipient result)."""

    ACCEPTED = 1  # the server took the message for this recipient: never sent to it again
    REFUSED_TRANSIENT = 2  # 4xx or a lost connection: tried again with the email's back-off
    REFUSED_PERMANENT = 3  # 5xx for this recipient: never tried again
    UNKNOWN = 4  # the connection was lost after the message was handed over: not sent again automatically


class RecipientResult(BaseModel):
    """The last answer the mail server gave for one envelope recipient."""

    address: Str320
    status: RecipientStatus
    code: int | None = None  # the SMTP reply code, when there was one
    reply: Str500 | None = None
    attempt: int = Field(default=0, ge=0)  # the delivery attempt that produced it
    on: datetime | None = None


class Email(Entity):
    """An email activity, incoming or outgoing."""

    subject: Str800 = ""
    direction: EmailDirection
    status: EmailStatus = EmailStatus.DRAFT
    description: str | None = Field(default=None, max_length=MAX_INLINE_BODY_CHARS)  # HTML body, in the row
    body_blob: BlobRef | None = None  # a body too long for the row is kept in Blob instead (N-16)
    body_preview: Str2048 = ""
    mime_type: Str256 | None = None

    parties: list[ActivityParty] = Field(default_factory=list)
    sender: Str250 | None = None  # raw From address
    to_recipients: Str500 | None = None  # raw To addresses
    submitted_by: Str250 | None = None
    is_duplicate_sender_unresolved: bool = False

    mailbox_ids: list[Str36] = Field(default_factory=list)  # every mailbox that received it, the tracking one first
    message_id: Str320 | None = None
    in_reply_to: Str320 | None = None
    references: list[Str320] = Field(default_factory=list)
    conversation_index: Str2048 | None = None
    tracking_token: Str50 | None = None
    internet_message_headers: Str500 | None = None

    correlation_method: CorrelationMethod = CorrelationMethod.NONE
    correlated_activity_id: Str36 | None = None
    correlated_subject_changed: bool = False
    parent_activity_id: Str36 | None = None
    regarding: EntityRef | None = None
    accepting_entity: EntityRef | None = None
    receiving_mailbox_id: Str36 | None = None
    sender_mailbox_id: Str36 | None = None
    owner: EntityRef | None = None

    delivery_attempts: int = Field(default=0, ge=0, le=1_000_000_000)  # N-34
    delivery_priority: Priority = Priority.NORMAL
    priority: Priority = Priority.NORMAL
    delayed_email_send_time: datetime | None = None
    postpone_email_processing_until: datetime | None = None
    sent_on: datetime | None = None
    received_on: datetime | None = None
    send_attempt_id: Str36 | None = None
    send_lease_expires_on: datetime | None = None  # while Sending: the claim of send_attempt_id holds until then
    recipient_results: list[RecipientResult] = Field(default_factory=list)  # outgoing: per envelope recipient
    last_send_error: Str2048 | None = None
    verify_sent_items: bool = False  # Exchange: an attempt's outcome was lost; Sent Items decides before a resend
    text_body: str | None = Field(default=None, max_length=MAX_TEXT_BODY_CHARS)  # outgoing plain-text alternative
    notifications: EmailNotification = EmailNotification.NONE
    attachments: list[AttachmentMeta] = Field(default_factory=list)

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
