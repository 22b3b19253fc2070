"""Mailbox provisioning and address changes (spec §2.2, §2.7).

- Creating a user or a queue creates exactly one mailbox for it (R-PROV-1). The mailbox id is derived
  from the owner, so the insert-if-absent of the mailbox row is what refuses a second one, also when
  two requests race.
- A new mailbox takes the organization's default methods, and the default profile when a method is
  server-side synchronization (R-PROV-2).
- Changing the address on the mailbox changes it on the owner, and the other way round, and sends the
  address back to Pending Approval (R-PROV-7).
- Forward mailboxes have no owner, send nothing and need a profile (R-FWD-3/4).
- No two mailboxes share an address (R-PROV-5): a mailbox claims its address before it is written
  (:mod:`sync.store.mailbox_addresses`), so a second one is refused instead of polling the same inbox.
- Deactivating a user deactivates the user's mailbox (R-PROV-15).
"""

from __future__ import annotations

import contextlib

from sync.crm.records import RecordService
from sync.errors import AlreadyExists, NotFound, ValidationFailed
from sync.model.fields import EntityRef, normalize_address
from sync.model.mailbox import Mailbox
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    StateCode,
)
from sync.model.records import Queue, SystemUser
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store


class MailboxAlreadyExists(AlreadyExists):
    """The user or queue already has its one mailbox."""


class Provisioning:
    """Creates users, queues and their mailboxes, and keeps addresses in step."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.records = RecordService(store)

    # --- owners and their mailboxes ----------------------------------------------------------------
    def create_user(
        self,
        user: SystemUser,
        *,
        incoming: IncomingDeliveryMethod | None = None,
        outgoing: OutgoingDeliveryMethod | None = None,
        act: ActDeliveryMethod | None = None,
    ) -> tuple[SystemUser, Mailbox]:
        """Store a new user and create its mailbox (methods default to the organization's)."""
        owner = EntityRef(type=user.entity_type, id=user.id)
        user.default_mailbox_id = owned_mailbox_id(owner)
        self._claim(user.internal_email_address, user.default_mailbox_id)
        self.records.create(user)
        mailbox = self.create_mailbox_for(owner, incoming=incoming, outgoing=outgoing, act=act)
        return user, mailbox

    def create_queue(
        self,
        queue: Queue,
        *,
        incoming: IncomingDeliveryMethod | None = None,
        outgoing: OutgoingDeliveryMethod | None = None,
    ) -> tuple[Queue, Mailbox]:
        """Store a new queue and create its mailbox; queues never sync ACT (R-Q-3)."""
        owner = EntityRef(type=queue.entity_type, id=queue.id)
        queue.default_mailbox_id = owned_mailbox_id(owner)
        self._claim(queue.email_address, queue.default_mailbox_id)
        self.records.create(queue)
        mailbox = self.create_mailbox_for(owner, incoming=incoming, outgoing=outgoing, act=ActDeliveryMethod.NONE)
        return queue, mailbox

    def create_mailbox_for(
        self,
        owner: EntityRef,
        *,
        incoming: IncomingDeliveryMethod | None = None,
        outgoing: OutgoingDeliveryMethod | None = None,
        act: ActDeliveryMethod | None = None,
    ) -> Mailbox:
        """The owner's one mailbox; MailboxAlreadyExists if it has one (atomic insert-if-absent)."""
        record = self.store.find_record(owner.type, owner.id)
        if not isinstance(record, (SystemUser, Queue)):
            raise NotFound(f"no user or queue {owner.id} to own a mailbox")
        org = self.store.get_organization()
        methods = (
            incoming if incoming is not None else org.default_incoming_method,
            outgoing if outgoing is not None else org.default_outgoing_method,
            act if act is not None else org.default_act_method,
        )
        uses_sync = (
            methods[0] is IncomingDeliveryMethod.SERVER_SIDE_SYNC
            or methods[1] is OutgoingDeliveryMethod.SERVER_SIDE_SYNC
            or methods[2] is ActDeliveryMethod.SERVER_SIDE_SYNC
        )
        address = record.internal_email_address if isinstance(record, SystemUser) else record.email_address
        mailbox = Mailbox(
            id=owned_mailbox_id(owner),
            name=record.display_name,
            email_address=address,
            owner=owner,
            incoming_method=methods[0],
            outgoing_method=methods[1],
            act_method=methods[2],
            email_server_profile_id=org.default_email_server_profile_id if uses_sync else None,
            approval=record.approval,
        )
        self._claim(address, mailbox.id)
        try:
            return self.store.mailboxes.insert(mailbox)
        except AlreadyExists:
            raise MailboxAlreadyExists(f"{owner.type.name.lower()} {owner.id} already has a mailbox") from None

    def ensure_mailbox(self, owner: EntityRef) -> Mailbox:
        """The owner's mailbox, created if a crash left the owner without one (idempotent)."""
        existing = self.store.find_mailbox(owned_mailbox_id(owner))
        if existing is not None:
            return existing
        try:
            return self.create_mailbox_for(owner)
        except MailboxAlreadyExists:
            return self.store.get_mailbox(owned_mailbox_id(owner))

    # --- forward mailboxes --------------------------------------------------------------------------
    def create_forward_mailbox(
        self,
        name: str,
        email_address: str,
        profile_id: str,
        *,
        delete_emails_after_processing: bool = False,
    ) -> Mailbox:
        """A stand-alone collection mailbox (R-FWD-3): no owner, no outgoing, a profile required."""
        if self.store.find_profile(profile_id) is None:
            raise ValidationFailed(
                "a forward mailbox needs an existing email server profile", field="email_server_profile_id"
            )
        mailbox = Mailbox(
            name=name,
            email_address=email_address,
            is_forward_mailbox=True,
            email_server_profile_id=profile_id,
            incoming_method=IncomingDeliveryMethod.SERVER_SIDE_SYNC,
            outgoing_method=OutgoingDeliveryMethod.NONE,
            act_method=ActDeliveryMethod.NONE,
            delete_emails_after_processing=delete_emails_after_processing,
        )
        self._claim(email_address, mailbox.id)
        return self.store.mailboxes.insert(mailbox)

    # --- addresses (R-PROV-7) -----------------------------------------------------------------------
    def change_mailbox_address(self, mailbox_id: str, new_address: str) -> Mailbox:
        """Change the mailbox's address, and its owner's; both go back to Pending Approval."""
        mailbox = self.store.get_mailbox(mailbox_id)
        self._claim(new_address, mailbox_id)
        if mailbox.owner is not None:
            self._set_owner_address(mailbox.owner, new_address)
        changed = self._set_mailbox_address(mailbox_id, new_address)
        assert changed is not None
        return changed

    def change_user_address(self, user_id: str, new_address: str) -> SystemUser:
        """Change a user's primary address, and its mailbox's; both go back to Pending Approval."""
        owner = EntityRef(type=SystemUser.entity_type, id=user_id)
        self._claim(new_address, owned_mailbox_id(owner))
        user = self._set_owner_address(owner, new_address)
        self._set_mailbox_address(owned_mailbox_id(owner), new_address, missing_ok=True)
        assert isinstance(user, SystemUser)
        return user

    def change_queue_address(self, queue_id: str, new_address: str | None) -> Queue:
        owner = EntityRef(type=Queue.entity_type, id=queue_id)
        self._claim(new_address, owned_mailbox_id(owner))
        queue = self._set_owner_address(owner, new_address)
        self._set_mailbox_address(owned_mailbox_id(owner), new_address, missing_ok=True)
        assert isinstance(queue, Queue)
        return queue

    def _set_owner_address(self, owner: EntityRef, new_address: str | None) -> SystemUser | Queue:
        record = self.store.find_record(owner.type, owner.id)
        if not isinstance(record, (SystemUser, Queue)):
            raise NotFound(f"owner {owner.id} not found")
        current = record.internal_email_address if isinstance(record, SystemUser) else record.email_address
        if current == new_address:
            return record
        if isinstance(record, SystemUser):
            if new_address is None:
                raise ValidationFailed("a user needs a primary email address", field="internal_email_address")
            record.internal_email_address = new_address
        else:
            record.email_address = new_address
        record.approval = EmailAddressApproval.PENDING_APPROVAL
        self.records.update(record)
        return record

    def _set_mailbox_address(
        self, mailbox_id: str, new_address: str | None, *, missing_ok: bool = False
    ) -> Mailbox | None:
        mailbox = self.store.find_mailbox(mailbox_id)
        if mailbox is None:
            if missing_ok:
                return None
            raise NotFound(f"mailbox {mailbox_id} not found")
        if mailbox.email_address == new_address:
            return mailbox
        old_address = mailbox.email_address

        def change(m: Mailbox) -> None:
            m.email_address = new_address
            m.approval = EmailAddressApproval.PENDING_APPROVAL
            m.is_email_address_approved_by_o365_admin = False
            m.email_address_approved_by = None
            m.email_address_approved_on = None

        changed = self.store.mailboxes.modify(mailbox_id, "mailbox", change)
        if old_address and normalize_address(old_address) != normalize_address(new_address or ""):
            self.store.mailbox_addresses.release(old_address, mailbox_id)
        return changed

    def _claim(self, address: str | None, mailbox_id: str) -> None:
        """Reserve ``address`` for ``mailbox_id`` (AddressInUse, a 409, when another mailbox has it)."""
        if address:
            self.store.mailbox_addresses.claim(address, mailbox_id)

    def release_address(self, mailbox: Mailbox) -> None:
        """After a mailbox is deleted: its address may be used by another mailbox."""
        self.store.mailbox_addresses.release(mailbox.email_address, mailbox.id)

    # --- state (R-PROV-15) --------------------------------------------------------------------------
    def set_user_state(self, user_id: str, state: StateCode) -> SystemUser:
        """Deactivating a user deactivates its mailbox; reactivating leaves the mailbox for Test & Enable."""
        user = self.store.get_user(user_id)
        user.state = state
        self.records.update(user)
        if state is StateCode.INACTIVE and user.default_mailbox_id:

            def deactivate(m: Mailbox) -> None:
                m.state = StateCode.INACTIVE

            with contextlib.suppress(NotFound):
                self.store.mailboxes.modify(user.default_mailbox_id, "mailbox", deactivate)
        return user
