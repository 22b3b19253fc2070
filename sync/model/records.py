"""Email-enabled CRM records: users, queues, contacts, accounts and leads (spec §1.7, §1.8).

Delivery methods live on the mailbox only (Dynamics mirrors them on the user and queue): one source
of truth, so they cannot disagree.

Each record lists its email columns in :meth:`EmailEnabled.email_columns`; the address index and
party resolution read them from there, so adding a column to a record makes it resolvable.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from sync.model.base import Entity
from sync.model.fields import EmailAddress, RecordEmailAddress, Str20, Str36, Str50, Str80, Str100, Str200, Str250
from sync.model.options import (
    AccessMode,
    EmailAddressApproval,
    EntityType,
    FilteringMethod,
    StateCode,
)


class EmailEnabled(Entity):
    """A record whose email columns resolve sender and recipient addresses (R-RES-1)."""

    entity_type: ClassVar[EntityType]
    email_column_names: ClassVar[tuple[str, ...]]

    state: StateCode = StateCode.ACTIVE

    def email_columns(self) -> dict[str, str | None]:
        """Column name -> address, in column-number order (``addressusedemailcolumnnumber``)."""
        return {name: getattr(self, name) for name in self.email_column_names}

    @property
    def is_active(self) -> bool:
        return self.state is StateCode.ACTIVE

    @property
    def display_name(self) -> str:
        raise NotImplementedError


class SystemUser(EmailEnabled):
    """A CRM user (``systemuser`` + the email part of ``usersettings``)."""

    entity_type: ClassVar[EntityType] = EntityType.SYSTEM_USER
    email_column_names: ClassVar[tuple[str, ...]] = ("internal_email_address", "personal_email_address")

    full_name: Str200
    internal_email_address: EmailAddress
    personal_email_address: EmailAddress | None = None
    approval: EmailAddressApproval = EmailAddressApproval.PENDING_APPROVAL
    default_mailbox_id: Str36 | None = None
    is_disabled: bool = False  # disabled users never resolve (R-RES-9)
    access_mode: AccessMode = AccessMode.READ_WRITE
    incoming_filtering_method: FilteringMethod = FilteringMethod.RESPONSES_TO_CRM_EMAIL  # C-1
    auto_create_records: bool = False  # "Automatically create records" (R-RES-11)
    auto_create_record_type: EntityType = EntityType.CONTACT
    allow_send_on_behalf: bool = False  # "Allow other users to send email on your behalf" (R-OUT-4)
    tracking_token_user_number: int | None = Field(default=None, ge=0)  # its tracking token number (R-COR-11)

    @property
    def display_name(self) -> str:
        return self.full_name


class Queue(EmailEnabled):
    """A CRM queue; its mailbox's owner is the queue owner (R-Q-1)."""

    entity_type: ClassVar[EntityType] = EntityType.QUEUE
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address",)

    name: Str200
    email_address: EmailAddress | None = None
    approval: EmailAddressApproval = EmailAddressApproval.PENDING_APPROVAL
    incoming_filtering_method: FilteringMethod = FilteringMethod.ALL_EMAIL  # R-Q-2
    default_mailbox_id: Str36 | None = None
    owner_user_id: Str36 | None = None

    @property
    def display_name(self) -> str:
        return self.name


class Contact(EmailEnabled):
    """A person the organization deals with."""

    entity_type: ClassVar[EntityType] = EntityType.CONTACT
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address1", "email_address2", "email_address3")

    first_name: Str100 | None = None
    last_name: Str100
    email_address1: RecordEmailAddress | None = None
    email_address2: RecordEmailAddress | None = None
    email_address3: RecordEmailAddress | None = None
    job_title: Str100 | None = None
    company_name: Str100 | None = None  # the company as text; Dynamics links an account (parentcustomerid)
    telephone1: Str50 | None = None  # business phone
    mobile_phone: Str50 | None = None
    address1_line1: Str250 | None = None  # the mailing address, the one synced with Exchange (R-ACT-16)
    address1_city: Str80 | None = None
    address1_postal_code: Str20 | None = None
    address1_country: Str80 | None = None
    parent_account_id: Str36 | None = None
    owner_user_id: Str36 | None = None
    do_not_email: bool = False

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class Account(EmailEnabled):
    """A company the organization deals with."""

    entity_type: ClassVar[EntityType] = EntityType.ACCOUNT
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address1", "email_address2", "email_address3")

    name: Str200 = Field(min_length=1)
    email_address1: RecordEmailAddress | None = None
    email_address2: RecordEmailAddress | None = None
    email_address3: RecordEmailAddress | None = None
    owner_user_id: Str36 | None = None
    do_not_email: bool = False

    @property
    def display_name(self) -> str:
        return self.name


class Lead(EmailEnabled):
    """A prospective customer."""

    entity_type: ClassVar[EntityType] = EntityType.LEAD
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address1", "email_address2", "email_address3")

    first_name: Str100 | None = None
    last_name: Str100
    company_name: Str100 | None = None
    email_address1: RecordEmailAddress | None = None
    email_address2: RecordEmailAddress | None = None
    email_address3: RecordEmailAddress | None = None
    owner_user_id: Str36 | None = None
    do_not_email: bool = False

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


RECORD_CLASSES: dict[EntityType, type[EmailEnabled]] = {
    cls.entity_type: cls for cls in (SystemUser, Queue, Contact, Account, Lead)
}
