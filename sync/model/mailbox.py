"""Mailbox (spec §1.1): one per user, one per queue, plus stand-alone forward mailboxes.

Besides the Dynamics columns a mailbox carries the scheduler's lease (R-SCH-9) and the incoming
watermark of each folder, so one ETag-guarded write moves a mailbox from one state to the next.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from sync.model.base import Entity
from sync.model.fields import EmailAddress, EntityRef, Sealed, Str36, Str200, Str250, Str256, Str1024, Str2048
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EntityType,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ProcessingState,
    StateCode,
    TestStatus,
)


class FolderWatermark(BaseModel):
    """How far incoming processing got in one folder; only ever advanced after items are stored."""

    folder: Str256
    uid_validity: int | None = None  # IMAP
    last_uid: int | None = None  # IMAP
    last_received_on: datetime | None = None  # date fallback when UIDVALIDITY changes
    sync_state: str | None = Field(default=None, max_length=30_000)  # EWS sync state / Graph delta link
    round_floor: datetime | None = None  # Graph: the received date that decides "new" while a delta round lasts
    processed_keys: list[str] = Field(default_factory=list)  # POP3: UIDLs already processed and still on the server
    pending_deletes: list[str] = Field(default_factory=list)  # stored, checkpointed, deletion not yet confirmed


class InProgressItem(BaseModel):
    """The message a cycle was about to process, written before it when the cycle follows one that died (R-REC-9).

    A cycle that finds it knows its predecessor stopped on that message (a function timeout or a crash) and
    counts one failed try for it instead of fetching it again and again.
    """

    folder: Str256
    remote_key: Str1024
    received_on: datetime | None = None
    blob: Str1024 | None = None  # a new message: its bytes, kept before it was processed
    failure_key: Str1024 | None = None  # a retry: the message key of its RetryPending row
    after: FolderWatermark | None = None  # the folder's watermark past the message (without processed_keys)
    remember_key: bool = False  # POP3: the message's key joins the folder's processed_keys


class Mailbox(Entity):
    """A mailbox processed by server-side synchronization."""

    name: Str200
    """The mailbox's display name (Dynamics: name, required)."""
    email_address: EmailAddress | None = None  # a queue may have none: then it is never processed
    """The address the mailbox receives and sends as; a user's or queue's follows their primary address. Changing it
    restarts approval. Dynamics: emailaddress."""
    owner: EntityRef | None = None  # the user or queue; None only for forward mailboxes
    """The user or queue the mailbox belongs to; none for a forward mailbox (Dynamics: regardingobjectid)."""
    is_forward_mailbox: bool = False
    """A stand-alone forward mailbox, which only receives; fixed on create (Dynamics: isforwardmailbox)."""
    state: StateCode = StateCode.ACTIVE
    """active mailboxes are processed, inactive ones never. Dynamics default: active."""
    email_server_profile_id: Str36 | None = None
    """The email server profile the mailbox connects with; without one it is not processed."""

    # synchronization methods
    incoming_method: IncomingDeliveryMethod = IncomingDeliveryMethod.SERVER_SIDE_SYNC
    """How incoming email is delivered: server_side_sync processes it here. Dynamics default for new mailboxes: the
    organization's default (server_side_sync)."""
    outgoing_method: OutgoingDeliveryMethod = OutgoingDeliveryMethod.SERVER_SIDE_SYNC
    """How outgoing email is sent: server_side_sync sends it from here; a forward mailbox has none. Dynamics default:
    server_side_sync."""
    act_method: ActDeliveryMethod = ActDeliveryMethod.NONE
    """Whether appointments, contacts and tasks sync with Exchange (server_side_sync) or not (none). Note the Dynamics
    numbering: 0 Outlook, 1 server-side sync, 2 none. Default: none."""
    delete_emails_after_processing: bool = False  # R-FWD-4: forward and queue mailboxes only
    """Delete each message from the mail server once it is processed; forward and queue mailboxes only. Dynamics
    default: no."""
    process_email_received_after: datetime | None = None
    """Only email received after this time is processed (the mailbox's start date); Test & Enable can set it."""

    # credentials (R-PROV-8)
    allow_credentials_for_email_processing: bool = False
    """Let the service use the credentials stored on this mailbox; needed when the profile takes credentials from the
    user or queue. Dynamics default: no."""
    username: Str250 | None = None
    """The user name the mailbox logs in with, when the profile takes credentials from the user or queue."""
    password: Sealed | None = None
    password_profile_id: Str36 | None = None
    """The profile the password was given for: it goes to that profile's servers only (empty: set before this
    was recorded). Moving the mailbox to another profile by any path does not carry the password along."""
    oauth_refresh_token: Sealed | None = None
    """A refresh token from a per-mailbox OAuth consent (write-only, never shown): the mailbox then logs in to
    IMAP, POP3 and SMTP with the access tokens it yields, whatever the profile's own OAuth source."""
    oauth_refresh_token_profile_id: Str36 | None = None
    """The profile whose OAuth client the consent was given to; the refresh token is used with that profile only."""
    oauth_refresh_token_endpoint: Str2048 | None = None
    """The token endpoint that issued the refresh token: it is sent nowhere else."""
    oauth_consented_on: datetime | None = None
    """When the mailbox's OAuth consent was recorded (or its refresh token last rotated)."""

    # approval and Test & Enable (R-APP-*, R-TE-*)
    approval: EmailAddressApproval = EmailAddressApproval.PENDING_APPROVAL
    """Whether the email address is approved: processing needs approved when the organization requires approval. Set by
    the approve and reject actions. Dynamics default: pending_approval."""
    is_email_address_approved_by_o365_admin: bool = False
    """Whether a Microsoft 365 administrator approved the address (needed for Exchange Online)."""
    email_address_approved_by: Str36 | None = None
    """The user who approved the address; cleared on rejection."""
    email_address_approved_on: datetime | None = None
    """When the address was approved; cleared on rejection."""
    enabled_for_incoming: bool = True
    """Incoming email is processed; set by Test & Enable, cleared when an error disables receiving. Dynamics default:
    yes."""
    enabled_for_outgoing: bool = True
    """Outgoing email is sent; set by Test & Enable, cleared when an error disables sending. Dynamics default: yes."""
    enabled_for_act: bool = True
    """Appointments, contacts and tasks sync; set by Test & Enable, cleared when an error disables it. Dynamics default:
    yes."""
    incoming_status: TestStatus = TestStatus.NOT_RUN
    """The last incoming test's result. Default: not_run."""
    outgoing_status: TestStatus = TestStatus.NOT_RUN
    """The last outgoing test's result. Default: not_run."""
    act_status: TestStatus = TestStatus.NOT_RUN
    """The last appointments, contacts and tasks test's result. Default: not_run."""
    mailbox_status: TestStatus = TestStatus.NOT_RUN
    """The last test's result for the mailbox as a whole. Default: not_run."""
    test_email_configuration_scheduled: bool = False
    """Set it to true to have Test & Enable run in the background within minutes (no earlier than
    postpone_test_email_configuration_until); also set after a failed test, for an automatic re-test. Default: no."""
    postpone_test_email_configuration_until: datetime | None = None
    """A scheduled Test & Enable runs no earlier than this (the next automatic re-test after a failure)."""
    test_email_configuration_retry_count: int = Field(default=0, ge=0)
    """Consecutive failed tests; automatic re-tests stop after 5 (a manual test counts as the first again)."""
    test_mailbox_access_completed_on: datetime | None = None
    """When the last mailbox test finished."""
    test_and_enable_last_attempted_by: Str36 | None = None
    """Who last ran Test & Enable."""
    test_and_enable_last_attempted_on: datetime | None = None
    """When Test & Enable was last run."""

    # scheduling (R-SCH-*, R-ELIG-9)
    postpone_mailbox_processing_until: datetime | None = None
    """The mailbox is not processed before this time (set after each cycle and after errors)."""
    receiving_postponed_until: datetime | None = None
    """Incoming email is not fetched before this time."""
    postpone_sending_until: datetime | None = None
    """Outgoing email is not sent before this time."""
    receiving_postponed_until_for_act: datetime | None = None
    """Appointments, contacts and tasks are not synced before this time."""
    next_scheduled_act_sync_seconds: int | None = None
    """Seconds until the next appointments, contacts and tasks sync."""
    no_email_count: int = Field(default=0, ge=0)
    """Consecutive cycles that found no email; polling slows down as it grows."""
    no_act_count: int = Field(default=0, ge=0)
    """Consecutive ACT cycles that found nothing to sync."""
    poll_budget_full_on: datetime | None = None
    """When the mailbox's poll budget is full again (sync/scheduling/poll_budget.py): polling waits while the
    mailbox has used its cycles of the hour. None: no cycle counted yet."""

    # lease (R-SCH-9): taken and released with ETag compare-and-swap
    processing_state: ProcessingState = ProcessingState.IDLE
    """Whether a worker is processing the mailbox now. Default: idle."""
    host_id: Str256 | None = None  # the lease id of the claim that holds the mailbox
    """The claim that holds the mailbox while a worker processes it."""
    due_row_key: Str256 | None = None  # this mailbox's row in the due index (None: not scheduled)
    """The mailbox's place in the schedule; none when not scheduled."""
    test_enable_row_key: Str256 | None = None  # the row in the Test & Enable index (None: no test scheduled)
    """The mailbox's place in the scheduled Test & Enable index; none when no test is scheduled."""
    act_host_id: Str256 | None = None  # the lease id of the ACT claim that holds the mailbox
    """The claim that holds the mailbox while its ACT sync runs."""
    act_due_row_key: Str256 | None = None  # the row in the ACT due index (None: ACT not scheduled)
    """The mailbox's place in the ACT schedule; none when ACT is not scheduled."""
    act_lease_expires_on: datetime | None = None
    """When the ACT claim lapses if its worker stops."""
    lease_expires_on: datetime | None = None
    """When the processing claim lapses if its worker stops."""
    push_subscribed_until: datetime | None = None  # the Graph subscription to its messages lives until then
    """While its messages have a live change notification subscription (push), polling is only the safety net
    and runs at the idle cadence (docs/push.md)."""
    push_pending_on: datetime | None = None  # a change notification came while a cycle held the lease
    """When a change notification arrived during a running cycle (push): if after the cycle began, the next
    cycle is due at once."""
    processing_last_attempted_on: datetime | None = None
    """When processing was last attempted."""
    forced_unlock_count: int = Field(default=0, ge=0)
    """How many times a stale claim on the mailbox was broken."""
    last_forced_unlock_on: datetime | None = None
    """When a stale claim was last broken."""

    # errors (R-ERR-*)
    transient_failure_count: int = Field(default=0, ge=0)
    """Transient failures in a row; the mailbox backs off as it grows."""
    outgoing_transient_failure_count: int = Field(default=0, ge=0)
    """Transient sending failures in a row; sending is disabled when it reaches the retry limit (R-OUT-9)."""
    act_transient_failure_count: int = Field(default=0, ge=0)
    """Transient appointments, contacts and tasks failures in a row; ACT is disabled at the retry limit (R-ERR-3)."""
    in_progress: InProgressItem | None = None
    """The message being processed by a cycle that follows a dead one (internal)."""
    item_retries_due_on: datetime | None = None
    """When the earliest message waiting for another try (R-REC-9) is due; none when no message waits."""
    last_sync_error: Str2048 | None = None
    """The last error's message."""
    last_sync_error_code: int | None = None
    """The last error's code (Dynamics' email server error codes where they apply)."""
    last_sync_error_count: int = Field(default=0, ge=0)
    """How many times in a row the last error happened."""
    last_sync_error_occurred_on: datetime | None = None
    """When the last error happened."""

    # last sync figures
    last_sync_started_on: datetime | None = None
    """When the last cycle started."""
    last_successful_sync_completed_on: datetime | None = None
    """When the last successful cycle finished."""
    items_processed_for_last_sync: int = Field(default=0, ge=0)
    """Messages processed in the last cycle."""
    items_failed_for_last_sync: int = Field(default=0, ge=0)
    """Messages that failed in the last cycle."""
    last_duration_ms: int | None = None
    """How long the last cycle took, in milliseconds."""

    watermarks: dict[str, FolderWatermark] = Field(default_factory=dict)
    """How far incoming processing got in each folder (internal)."""

    def password_is_for(self, profile_id: str) -> bool:
        """Whether the stored password may be sent to the servers of the profile ``profile_id``."""
        return self.password_profile_id is None or self.password_profile_id == profile_id

    @property
    def password_is_set(self) -> bool:
        return self.password is not None

    @property
    def is_active(self) -> bool:
        return self.state is StateCode.ACTIVE

    @property
    def is_queue_mailbox(self) -> bool:
        return self.owner is not None and self.owner.type is EntityType.QUEUE

    @property
    def is_user_mailbox(self) -> bool:
        return self.owner is not None and self.owner.type is EntityType.SYSTEM_USER

    @model_validator(mode="after")
    def _shape_rules(self) -> Mailbox:
        if self.is_forward_mailbox:
            if self.owner is not None:
                raise ValueError("a forward mailbox has no owning user or queue (R-FWD-3)")
            if self.outgoing_method is not OutgoingDeliveryMethod.NONE:
                raise ValueError("a forward mailbox sends nothing: outgoing method must be None (R-FWD-3)")
        elif self.owner is None:
            raise ValueError("a mailbox belongs to a user or a queue unless it is a forward mailbox")
        elif self.owner.type not in (EntityType.SYSTEM_USER, EntityType.QUEUE):
            raise ValueError("a mailbox's owner is a user or a queue")
        if self.delete_emails_after_processing and not (self.is_forward_mailbox or self.is_queue_mailbox):
            raise ValueError("delete emails after processing is allowed for forward and queue mailboxes only (R-FWD-4)")
        return self
