"""An administrator's "synchronize now": put a mailbox's incoming and/or ACT cycle on the schedule, due now.

The next scheduler tick claims it like any due mailbox (lease, eligibility, fan-out), so "now" means within
a tick. What may not run is refused with every reason (the eligibility rules of R-ELIG-*), never queued to
fail later. "Now" overrides the polling interval only: a mailbox waiting out an error's retry delay stays
refused (Test & Enable retries it at once), and a mailbox in a running cycle is refused, because that
cycle's end sets the next due time anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sync.mailboxes import eligibility
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.options import ActDeliveryMethod, IncomingDeliveryMethod, ProcessingState
from sync.scheduling.act_scheduler import schedule_act_now
from sync.scheduling.scheduler import schedule_now
from sync.store.store import Store

Choice = Literal["incoming", "act", "both"]
RUNNING = "running"  # a cycle holds the workload's lease now
NOT_USED = "not_used"  # the mailbox does not use server-side synchronization for the workload


@dataclass
class SyncNowResult:
    mailbox_id: str
    due_on: datetime
    scheduled: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)


def uses(mailbox: Mailbox) -> list[str]:
    """The workloads ``mailbox`` runs through server-side synchronization ("both" picks among these)."""
    used = []
    if mailbox.is_forward_mailbox or mailbox.incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC:
        used.append("incoming")
    if mailbox.is_user_mailbox and mailbox.act_method is ActDeliveryMethod.SERVER_SIDE_SYNC:
        used.append("act")
    return used


def why_not(
    workload: str, mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
) -> list[str]:
    """Every reason the workload cannot be scheduled now; empty when it can."""
    if workload not in uses(mailbox):
        return [NOT_USED]
    if workload == "incoming":
        polling_aside = mailbox.model_copy(update={"postpone_mailbox_processing_until": None})
        reasons = [str(r) for r in eligibility.incoming(polling_aside, profile, org, now).reasons]
        lease = mailbox.lease_expires_on if mailbox.processing_state is ProcessingState.PROCESSING else None
    else:
        reasons = [str(r) for r in eligibility.act(mailbox, profile, org, now).reasons]
        lease = mailbox.act_lease_expires_on if mailbox.act_host_id else None
    if lease is not None and lease > now:
        reasons.append(RUNNING)
    return reasons


class NotSchedulable(Exception):
    """Nothing asked for may run now; ``reasons`` per workload say why."""

    def __init__(self, mailbox_id: str, reasons: dict[str, list[str]]) -> None:
        text = "; ".join(f"{w}: {', '.join(r)}" for w, r in reasons.items())
        super().__init__(f"mailbox {mailbox_id} cannot be synchronized now ({text})")
        self.reasons = reasons


def sync_now(store: Store, mailbox_id: str, choice: Choice | None, now: datetime) -> SyncNowResult:
    """Schedule the chosen workloads due ``now``.

    One named workload must be able to run. "both" (the default) means the workloads the mailbox uses: those
    that can run are scheduled and the others reported; only when none can is the request refused.
    """
    mailbox = store.get_mailbox(mailbox_id)
    profile = store.find_profile(mailbox.email_server_profile_id or "")
    org = store.get_organization()
    wanted = [choice] if choice in ("incoming", "act") else (uses(mailbox) or ["incoming"])
    verdicts = {w: why_not(w, mailbox, profile, org, now) for w in wanted}
    result = SyncNowResult(mailbox_id, now, refused={w: r for w, r in verdicts.items() if r})
    runnable = [w for w, r in verdicts.items() if not r]
    if not runnable:
        raise NotSchedulable(mailbox_id, result.refused)
    for workload in runnable:
        if workload == "incoming":
            schedule_now(store, mailbox_id, now)
        else:
            schedule_act_now(store, mailbox_id, now)
        result.scheduled.append(workload)
    return result
