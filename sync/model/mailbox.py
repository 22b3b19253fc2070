"""Mailbox (spec §1.1): one per user, one per queue, plus stand-alone forward mailboxes.

Besides the Dynamics columns a mailbox carries the scheduler's lease (R-SCH-9) and the incoming
watermark of each folder, so one ETag-guarded write moves a mailbox from one state to the next.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from sync.model.base import Entity
from sync.model.fields import EmailAddress, EntityRef, Sealed, Str36, Str200, Str250, Str256, Str2048
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


class Mailbox(Entity):
    """A mailbox processed by server-side synchronization."""

    name: Str200
    email_address: EmailAddress | None = None  # a queue may have none: then it is never processed
    owner: EntityRef | None = None  # the user or queue; None only for forward mailboxes
    is_forward_mailbox: bool = False
    state: StateCode = StateCode.ACTIVE
    email_server_profile_id: Str36 | None = None

    # synchronization methods
    incoming_method: IncomingDeliveryMethod = IncomingDeliveryMethod.SERVER_SIDE_SYNC
    outgoing_method: OutgoingDeliveryMethod = OutgoingDeliveryMethod.SERVER_SIDE_SYNC
    act_method: ActDeliveryMethod = ActDeliveryMethod.NONE
    delete_emails_after_processing: bool = False  # R-FWD-4: forward and queue mailboxes only
    process_email_received_after: datetime | None = None

    # credentials (R-PROV-8)
    allow_credentials_for_email_processing: bool = False
    username: Str250 | None = None
    password: Sealed | None = None
    # The profile the password was given for: it goes to that profile's servers only (None: set before this
    # was recorded). Moving the mailbox to another profile by any path does not carry the password along.
    password_profile_id: Str36 | None = None

    # approval and Test & Enable (R-APP-*, R-TE-*)
    approval: EmailAddressApproval = EmailAddressApproval.PENDING_APPROVAL
    is_email_address_approved_by_o365_admin: bool = False
    email_address_approved_by: Str36 | None = None
    email_address_approved_on: datetime | None = None
    enabled_for_incoming: bool = True
    enabled_for_outgoing: bool = True
    enabled_for_act: bool = True
    incoming_status: TestStatus = TestStatus.NOT_RUN
    outgoing_status: TestStatus = TestStatus.NOT_RUN
    act_status: TestStatus = TestStatus.NOT_RUN
    mailbox_status: TestStatus = TestStatus.NOT_RUN
    test_email_configuration_scheduled: bool = False
    postpone_test_email_configuration_until: datetime | None = None
    test_email_configuration_retry_count: int = Field(default=0, ge=0)
    test_mailbox_access_completed_on: datetime | None = None
    test_and_enable_last_attempted_by: Str36 | None = None
    test_and_enable_last_attempted_on: datetime | None = None

    # scheduling (R-SCH-*, R-ELIG-9)
    postpone_mailbox_processing_until: datetime | None = None
    receiving_postponed_until: datetime | None = None
    postpone_sending_until: datetime | None = None
    receiving_postponed_until_for_act: datetime | None = None
    next_scheduled_act_sync_seconds: int | None = None
    no_email_count: int = Field(default=0, ge=0)
    no_act_count: int = Field(default=0, ge=0)

    # lease (R-SCH-9): taken and released with ETag compare-and-swap
    processing_state: ProcessingState = ProcessingState.IDLE
    host_id: Str256 | None = None  # the lease id of the claim that holds the mailbox
    due_row_key: Str256 | None = None  # this mailbox's row in the due index (None: not scheduled)
    act_host_id: Str256 | None = None  # the lease id of the ACT claim that holds the mailbox
    act_due_row_key: Str256 | None = None  # the row in the ACT due index (None: ACT not scheduled)
    act_lease_expires_on: datetime | None = None
    lease_expires_on: datetime | None = None
    processing_last_attempted_on: datetime | None = None
    forced_unlock_count: int = Field(default=0, ge=0)
    last_forced_unlock_on: datetime | None = None

    # errors (R-ERR-*)
    transient_failure_count: int = Field(default=0, ge=0)
    last_sync_error: Str2048 | None = None
    last_sync_error_code: int | None = None
    last_sync_error_count: int = Field(default=0, ge=0)
    last_sync_error_occurred_on: datetime | None = None

    # last sync figures
    last_sync_started_on: datetime | None = None
    last_successful_sync_completed_on: datetime | None = None
    items_processed_for_last_sync: int = Field(default=0, ge=0)
    items_failed_for_last_sync: int = Field(default=0, ge=0)
    last_duration_ms: int | None = None

    watermarks: dict[str, FolderWatermark] = Field(default_factory=dict)

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
