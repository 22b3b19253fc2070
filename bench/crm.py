"""The CRM side the Exchange benchmarks share: one user whose approved mailbox is due now."""

from __future__ import annotations

from sync.mailboxes.provisioning import Provisioning
from sync.model import EmailServerProfile, Mailbox, SystemUser
from sync.model.options import EmailAddressApproval, FilteringMethod
from sync.scheduling.scheduler import schedule_now
from sync.store import Store


def user_mailbox(store: Store, profile: EmailServerProfile, address: str, name: str) -> Mailbox:
    """A user tracking all email, whose mailbox on ``profile`` is approved (also by an Exchange Online admin)."""
    _, mailbox = Provisioning(store).create_user(
        SystemUser(full_name=name, internal_email_address=address, incoming_filtering_method=FilteringMethod.ALL_EMAIL)
    )
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.is_email_address_approved_by_o365_admin = True  # R-ELIG-7 for Exchange Online
    store.mailboxes.update(mailbox)
    return schedule_now(store, mailbox.id)
