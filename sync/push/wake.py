"""Wake a mailbox's workload at once: the push path's only effect on a mailbox (docs/push.md).

A notification never processes mail itself. It claims the mailbox exactly as the scheduler tick does (the
same lease, ETag compare-and-swap, the same work item on the same queue), so everything downstream is the
polling path. That claim is the deduplication: a burst of notifications finds the mailbox already claimed
(``running``) or loses the compare-and-swap to the first one (``raced``), and costs one cycle. The rules of
"synchronize now" apply (``sync/operations/sync_now.py``): push overrides the polling interval, never an
error's retry delay, approval or a disabled workload.
"""

from __future__ import annotations

from datetime import datetime

from sync.errors import ConcurrencyConflict
from sync.operations.sync_now import RUNNING, why_not
from sync.scheduling.act_scheduler import ActScheduler
from sync.scheduling.scheduler import Scheduler
from sync.store.store import Store

QUEUED = "queued"  # claimed: its work item is on the queue now
BUSY = "running"  # a cycle holds the lease: it (or the poll after it) reads the change
RACED = "raced"  # another claimer changed the mailbox first: that claim runs the cycle
REFUSED = "refused"  # the workload may not run now (eligibility); polling resumes it when it may
GONE = "gone"  # the mailbox no longer exists


class Waker:
    def __init__(self, store: Store, incoming: Scheduler, act: ActScheduler) -> None:
        self.store = store
        self.incoming = incoming
        self.act = act

    def wake(self, mailbox_id: str, workload: str, now: datetime) -> str:
        """Claim ``workload`` ("incoming" or "act") of the mailbox and queue its cycle; returns what happened."""
        mailbox = self.store.find_mailbox(mailbox_id)
        if mailbox is None:
            return GONE
        profile = self.store.find_profile(mailbox.email_server_profile_id or "")
        reasons = why_not(workload, mailbox, profile, self.store.get_organization(), now)
        if RUNNING in reasons:
            return BUSY
        if reasons:
            return REFUSED
        try:
            if workload == "incoming":
                self.incoming.claim(mailbox, profile, now)
            else:
                self.act.claim(mailbox, now)
        except ConcurrencyConflict:
            return RACED
        return QUEUED
