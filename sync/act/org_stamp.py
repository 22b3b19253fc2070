"""R-TE-7: an Exchange mailbox synchronizes appointments, contacts and tasks with one organization only.

Exchange keeps the claiming organization's id and its last sync time (``OrgStamp``). Test & Enable claims an
unclaimed mailbox, or one claimed by another organization when the organization's
``act_sync_this_org_only_override`` is on; otherwise another organization's claim refuses the mailbox. Each ACT
cycle reads the claim (one small request), stops if another organization took the mailbox since, and refreshes
the last sync time at most once every ``REFRESH_EVERY``: a cycle never takes a mailbox back on its own, so two
organizations that both set the override do not take turns every five minutes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sync.act.port import ActMailbox, OrgStamp
from sync.mail.errors import PermanentMailError

REFRESH_EVERY = timedelta(hours=1)
OTHER_ORGANIZATION_CODE = "ActConfiguredWithAnotherOrganization"


class ActClaimedByAnotherOrganization(PermanentMailError):
    """The mailbox's ACT is synchronized by another organization (Dynamics' 'configured with another organization')."""

    def __init__(self, address: str, other_org_id: str) -> None:
        super().__init__(
            f"the Exchange mailbox {address} is configured to synchronize appointments, contacts, and tasks with "
            f"another organization ({other_org_id})",
            code=OTHER_ORGANIZATION_CODE,
        )
        self.other_org_id = other_org_id


class StampAction(StrEnum):
    KEEP = "keep"  # ours and fresh: nothing to write
    WRITE = "write"  # unclaimed, ours but stale, or taken over: write our stamp
    REFUSE = "refuse"  # another organization's


def decide(
    stamp: OrgStamp | None, our_org_id: str, now: datetime, *, take_over: bool, refresh_every: timedelta = REFRESH_EVERY
) -> StampAction:
    """What to do with the mailbox's claim. ``take_over``: another organization's claim is overwritten."""
    if stamp is None or not stamp.org_id:
        return StampAction.WRITE
    if stamp.org_id != our_org_id:
        return StampAction.WRITE if take_over else StampAction.REFUSE
    fresh = stamp.last_sync_on is not None and now - stamp.last_sync_on < refresh_every
    return StampAction.KEEP if fresh else StampAction.WRITE


def check_claim(exchange: ActMailbox, our_org_id: str, now: datetime, *, take_over: bool) -> StampAction:
    """Claim or refresh the mailbox for our organization; ActClaimedByAnotherOrganization when we may not."""
    stamp = exchange.read_org_stamp()
    action = decide(stamp, our_org_id, now, take_over=take_over)
    if action is StampAction.REFUSE:
        assert stamp is not None
        raise ActClaimedByAnotherOrganization(exchange.address, stamp.org_id)
    if action is StampAction.WRITE:
        exchange.write_org_stamp(OrgStamp(our_org_id, now))
    return action
