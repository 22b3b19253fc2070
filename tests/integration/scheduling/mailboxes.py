"""Mailboxes on a schedule, as their workers leave them (the claim tests of both schedules and the app's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import ActDeliveryMethod, EmailAddressApproval, EntityType, TestStatus
from sync.scheduling import ticket
from sync.scheduling.claim_rules import ACT
from sync.store import Store
from sync.store.due_index import row_key


def act_due_mailbox(store: Store, profile: EmailServerProfile, due: datetime, *, with_ticket: bool) -> Mailbox:
    """A user mailbox on the ACT schedule as the ACT worker leaves it: its ACT due row with (or without) a ticket."""
    mailbox_id = str(uuid.uuid4())
    mailbox = store.mailboxes.insert(Mailbox(
        id=mailbox_id, name="m", email_address=f"{mailbox_id[:10]}@example.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())), email_server_profile_id=profile.id,
        approval=EmailAddressApproval.APPROVED, act_method=ActDeliveryMethod.SERVER_SIDE_SYNC,
        act_status=TestStatus.SUCCESS, act_due_row_key=row_key(mailbox_id, due),
    ))  # fmt: skip
    issued = ticket.issue(mailbox, profile, store.get_organization(), rules=ACT) if with_ticket else None
    assert (issued is not None) == with_ticket
    store.act_due_index.move(mailbox.id, None, due, issued.properties() if issued else None)
    return mailbox
