"""Approving or rejecting a mailbox's email address (R-APP-1..6) — pure, no I/O.

Approval says the address may be used; it does not say the mailbox works. As in Dynamics (R-APP-5), a mailbox
runs only after a Test & Enable succeeded: approving leaves every workload whose last test did not succeed
(never run, or failed) disabled until Test & Enable enables it, so approving an untested mailbox neither polls
its server nor sends its Pending Send email (R-OUT-3). A workload already tested successfully keeps running.
"""

from __future__ import annotations

from datetime import datetime

from sync.model.mailbox import Mailbox
from sync.model.options import EmailAddressApproval, TestStatus

WORKLOADS = ("incoming", "outgoing", "act")


def untested_workloads(mailbox: Mailbox) -> list[str]:
    """The workloads whose last Test & Enable did not succeed."""
    return [name for name in WORKLOADS if getattr(mailbox, f"{name}_status") is not TestStatus.SUCCESS]


def apply_decision(
    mailbox: Mailbox, approval: EmailAddressApproval, *, by: str, on: datetime, by_exchange_administrator: bool
) -> None:
    """Record the decision, who and when (cleared on rejection, R-APP-6), and hold untested workloads (R-APP-5).

    ``by_exchange_administrator`` is what Entra ID says of the caller (R-APP-2), never what the caller claims.
    """
    approved = approval is EmailAddressApproval.APPROVED
    mailbox.approval = approval
    mailbox.email_address_approved_by = by if approved else None
    mailbox.email_address_approved_on = on if approved else None
    mailbox.is_email_address_approved_by_o365_admin = approved and (
        by_exchange_administrator or mailbox.is_email_address_approved_by_o365_admin
    )
    if approved:
        for name in untested_workloads(mailbox):
            setattr(mailbox, f"enabled_for_{name}", False)
