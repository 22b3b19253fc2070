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
    """active records resolve addresses and are processed; inactive ones do not. Dynamics default: active."""

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
    """The user's name."""
    internal_email_address: EmailAddress
    """The primary address, also the mailbox's; changing it restarts approval (Dynamics: internalemailaddress)."""
    personal_email_address: EmailAddress | None = None
    """A second address that resolves to the user."""
    approval: EmailAddressApproval = EmailAddressApproval.PENDING_APPROVAL
    """Whether the primary address is approved; follows the mailbox's approval. Dynamics default: pending_approval."""
    default_mailbox_id: Str36 | None = None
    """The user's mailbox, created with the user."""
    is_disabled: bool = False  # disabled users never resolve (R-RES-9)
    """A disabled user's addresses never resolve. Default: no."""
    access_mode: AccessMode = AccessMode.READ_WRITE
    """The user's access; Test & Enable needs read_write. Dynamics default: read_write."""
    incoming_filtering_method: FilteringMethod = FilteringMethod.RESPONSES_TO_CRM_EMAIL  # C-1
    """Which incoming email is tracked for the user. Default: responses_to_crm_email (Dynamics documents it; its form
    shows from_leads_contacts_accounts)."""
    auto_create_records: bool = False  # "Automatically create records" (R-RES-11)
    """Create a contact or lead for senders that match no record. Default: no."""
    auto_create_record_type: EntityType = EntityType.CONTACT
    """What auto_create_records creates: contact or lead. Default: contact."""
    allow_send_on_behalf: bool = False  # "Allow other users to send email on your behalf" (R-OUT-4)
    """Other users may send email on this user's behalf. Default: no."""
    tracking_token_user_number: int | None = Field(default=None, ge=0)  # its tracking token number (R-COR-11)
    """The user's number in tracking tokens, given on the first token."""

    @property
    def display_name(self) -> str:
        return self.full_name


class Queue(EmailEnabled):
    """A CRM queue; its mailbox's owner is the queue owner (R-Q-1)."""

    entity_type: ClassVar[EntityType] = EntityType.QUEUE
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address",)

    name: Str200
    """The queue's name."""
    email_address: EmailAddress | None = None
    """The queue's address, and its mailbox's; a queue without one is never processed."""
    approval: EmailAddressApproval = EmailAddressApproval.PENDING_APPROVAL
    """Whether the address is approved; follows the mailbox's approval. Default: pending_approval."""
    incoming_filtering_method: FilteringMethod = FilteringMethod.ALL_EMAIL  # R-Q-2
    """Which incoming email is tracked for the queue. Dynamics default: all_email."""
    default_mailbox_id: Str36 | None = None
    """The queue's mailbox, created with the queue."""
    owner_user_id: Str36 | None = None
    """The user who owns the queue (and its mailbox)."""

    @property
    def display_name(self) -> str:
        return self.name


class Contact(EmailEnabled):
    """A person the organization deals with."""

    entity_type: ClassVar[EntityType] = EntityType.CONTACT
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address1", "email_address2", "email_address3")

    first_name: Str100 | None = None
    """First name."""
    last_name: Str100
    """Last name (required)."""
    email_address1: RecordEmailAddress | None = None
    """Primary email; resolves to the contact."""
    email_address2: RecordEmailAddress | None = None
    """Second email; resolves to the contact."""
    email_address3: RecordEmailAddress | None = None
    """Third email; resolves to the contact."""
    job_title: Str100 | None = None
    """Job title."""
    company_name: Str100 | None = None  # the company as text; Dynamics links an account (parentcustomerid)
    """The company, as text."""
    telephone1: Str50 | None = None  # business phone
    """Business phone."""
    mobile_phone: Str50 | None = None
    """Mobile phone."""
    address1_line1: Str250 | None = None  # the mailing address, the one synced with Exchange (R-ACT-16)
    """Street of the mailing address (synced with Exchange)."""
    address1_city: Str80 | None = None
    """City of the mailing address."""
    address1_postal_code: Str20 | None = None
    """Postal code of the mailing address."""
    address1_country: Str80 | None = None
    """Country of the mailing address."""
    parent_account_id: Str36 | None = None
    """The account the contact belongs to."""
    owner_user_id: Str36 | None = None
    """The user who owns the contact; ACT syncs it to their mailbox."""
    do_not_email: bool = False
    """Do not send email to the contact. Default: no (allow)."""

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


class Account(EmailEnabled):
    """A company the organization deals with."""

    entity_type: ClassVar[EntityType] = EntityType.ACCOUNT
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address1", "email_address2", "email_address3")

    name: Str200 = Field(min_length=1)
    """The account's name."""
    email_address1: RecordEmailAddress | None = None
    """Primary email; resolves to the account."""
    email_address2: RecordEmailAddress | None = None
    """Second email; resolves to the account."""
    email_address3: RecordEmailAddress | None = None
    """Third email; resolves to the account."""
    owner_user_id: Str36 | None = None
    """The user who owns the account."""
    do_not_email: bool = False
    """Do not send email to the account. Default: no (allow)."""

    @property
    def display_name(self) -> str:
        return self.name


class Lead(EmailEnabled):
    """A prospective customer."""

    entity_type: ClassVar[EntityType] = EntityType.LEAD
    email_column_names: ClassVar[tuple[str, ...]] = ("email_address1", "email_address2", "email_address3")

    first_name: Str100 | None = None
    """First name."""
    last_name: Str100
    """Last name (required)."""
    company_name: Str100 | None = None
    """The company, as text."""
    email_address1: RecordEmailAddress | None = None
    """Primary email; resolves to the lead."""
    email_address2: RecordEmailAddress | None = None
    """Second email; resolves to the lead."""
    email_address3: RecordEmailAddress | None = None
    """Third email; resolves to the lead."""
    owner_user_id: Str36 | None = None
    """The user who owns the lead."""
    do_not_email: bool = False
    """Do not send email to the lead. Default: no (allow)."""

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


RECORD_CLASSES: dict[EntityType, type[EmailEnabled]] = {
    cls.entity_type: cls for cls in (SystemUser, Queue, Contact, Account, Lead)
}
