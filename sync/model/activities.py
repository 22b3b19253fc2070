"""Records that hang off mailboxes and emails: queue items, sync id mappings, tracking folders, alerts."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sync.model.base import Entity
from sync.model.fields import EntityRef, Str36, Str120, Str256, Str800, Str1024, Str2000, Str2048, utcnow
from sync.model.options import AlertLevel, EntityType, FolderOnboardingStatus, StateCode


class QueueItem(Entity):
    """A queue's work item pointing at an email (R-REC-6, §2.16)."""

    queue_id: Str36
    object: EntityRef  # the email
    title: Str800 = ""
    entered_on: datetime = Field(default_factory=utcnow)
    worked_by_user_id: Str36 | None = None
    state: StateCode = StateCode.ACTIVE


class ExchangeSyncIdMapping(Entity):
    """Links a CRM record to its Exchange item in one mailbox (spec §1.3), with our change tracking.

    One row per (mailbox, record), found by record; a lookup row finds it by Exchange item id. The CRM side
    marks the row ``pending`` with its new ``crm_version`` whenever the record changes; the ACT cycle
    clears the mark once Exchange has that version (``crm_version_synced``).
    """

    mailbox_id: Str36
    object_id: Str36
    object_type: EntityType
    exchange_entry_id: Str1024 | None = None  # None until the item exists in Exchange
    item_subject: Str2048 | None = None
    change_key: Str256 | None = None  # the item's change key when last synced: a different one is a change
    crm_version: int = 0  # the record's latest version the CRM side has noted
    crm_version_synced: int | None = None
    pending: bool = False  # the CRM record changed since it was last synced
    deleted_in_crm: bool = False
    # an appointment deleted in the CRM, as the mailbox's user saw it then: R-ACT-8 decides with it once it is gone
    deleted_organized: bool | None = None  # the user organized it
    deleted_last_start: datetime | None = None  # when it started, a series' last occurrence (at the latest)
    deleted_with_attendees: bool | None = None
    create_started_on: datetime | None = None  # a create was sent (or about to be): look for the item first
    from_crm_change_type: int | None = None
    to_crm_change_type: int | None = None
    is_deleted_in_exchange: bool = False
    is_unlinked_in_crm: bool = False
    user_decision: int | None = None
    last_decision: Str2048 | None = None  # how the last conflict was resolved
    retries: int = Field(default=0, ge=0)
    failed_version: int | None = None  # the record version whose sync failed: retried until it changes
    last_sync_error: Str2048 | None = None
    last_sync_error_code: int | None = None
    last_sync_error_occurred_on: datetime | None = None


class SchedulingConflict(Entity):
    """An Exchange appointment the user tracked that overlaps one of theirs (R-ACT-11, R-ACT-24): waits for the
    user's decision (``decision``: True saves it anyway on the next cycle, False drops it)."""

    mailbox_id: Str36
    exchange_entry_id: Str1024
    subject: Str2048 | None = None
    start: datetime | None = None
    end: datetime | None = None
    decision: bool | None = None
    decided_on: datetime | None = None


class ExchangeItemLookup(Entity):
    """Which record an Exchange item is linked to, in one mailbox (the mapping's second key)."""

    mailbox_id: Str36
    exchange_entry_id: Str1024
    object_id: Str36
    object_type: EntityType


class MailboxTrackingFolder(Entity):
    """A folder-level tracking rule (spec §1.4): every email in the folder is tracked."""

    mailbox_id: Str36
    """The mailbox whose folder is tracked."""
    exchange_folder_id: Str120
    """The Exchange folder's id; fixed once created."""
    exchange_folder_name: Str256 | None = None
    """The folder's name."""
    folder_onboarding_status: FolderOnboardingStatus = FolderOnboardingStatus.NOT_CHECKED
    """Whether the folder was found under the Inbox: not_checked, onboarded (tracked) or not_under_inbox (off)."""
    regarding: EntityRef | None = None
    """The record every email in the folder is set regarding."""
    is_enabled: bool = True
    """Emails in the folder are tracked. Default: yes."""


class AffectedMailbox(BaseModel):
    """One mailbox a profile's alert is about, with its own error code (R-ERR-5)."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: Str36
    """The mailbox."""
    name: Str256
    """The mailbox's name."""
    code_name: Str256
    """Its own error code name."""


class Alert(Entity):
    """An alert on the alerts wall (``tracelog``, spec §1.10); one per (regarding record, code).

    A repeat of the same alert updates ``last_seen_on`` and ``count`` instead of adding a row.
    """

    level: AlertLevel
    """information, warning or error."""
    code: int = Field(ge=-2_147_483_648, le=1_000_000_000)
    """The alert's code (Dynamics' email server error codes where they apply)."""
    code_name: Str256 | None = None
    """The code's name."""
    text: Str2000
    """What happened and what to do."""
    error_details: Str2048 | None = None
    """Technical details."""
    regarding: EntityRef  # a mailbox, a profile or an email
    """The mailbox, profile or email the alert is about."""
    mailbox_id: Str36 | None = None
    """The mailbox it concerns."""
    profile_id: Str36 | None = None
    """The email server profile it concerns."""
    email_id: Str36 | None = None
    """The email it concerns."""
    first_seen_on: datetime = Field(default_factory=utcnow)
    """When it first happened."""
    last_seen_on: datetime = Field(default_factory=utcnow)
    """When it last happened."""
    count: int = Field(default=1, ge=1)
    """How many times it happened."""
    dismissed: bool = False
    """Dismissed by an administrator; a repeat shows it again."""
    mailboxes: list[AffectedMailbox] = Field(default_factory=list)
    """A profile's alert: the mailboxes failing this way now, each with its own error code."""
    resolved_on: datetime | None = None
    """A profile's alert: when the last of its mailboxes recovered and the alert closed."""


class ItemFailure(Entity):
    """Why one message was not tracked (R-ACC-9, R-REC-10): kept for the admin to see, then purged (N-26)."""

    mailbox_id: Str36
    """The mailbox that saw the message."""
    message_key: Str1024
    """The message's key on the mail server."""
    message_id: Str1024 | None = None
    """The Message-ID header."""
    subject: Str800 = ""
    """The subject."""
    sender: Str256 | None = None
    """The sender's address."""
    reason: Str256  # a reason code name: NoCorrelationMatch, Duplicate, InvalidSender, TooLarge, Quarantined, ...
    """Why it was not tracked, e.g. NoCorrelationMatch, Duplicate, TooLarge, Quarantined."""
    reason_code: int = -1
    """The reason's code (Dynamics' CheckIncomingEmail numbers where they exist)."""
    details: Str2048 | None = None
    """More about the reason."""
    received_on: datetime | None = None
    """When the mail server received it."""
    expires_on: datetime
    """When this record is purged."""
    quarantine_blob: Str1024 | None = None  # raw bytes kept for replay
    """Where a quarantined message's bytes are kept, for replay."""
    email_id: Str36 | None = None  # the existing email, for Duplicate
    """The email already tracked, for a duplicate."""
    attempts: int = Field(default=0, ge=0)
    """How many times processing the message was tried and failed (RetryPending, Quarantined)."""
    retry_on: datetime | None = None
    """When a message waiting for another try (RetryPending) is tried again (R-REC-9)."""
    remote_key: Str1024 | None = None
    """The message's key on the mail server, to mark or delete it once its retries settle it."""
    folder_key: Str256 | None = None
    """The folder the message was found in (its watermark key), for the same reason."""
