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
from sync.settings import Settings
from sync.store.names import Queue
from sync.store.store import Store

QUEUED = "queued"  # claimed: its work item is on the queue now
BUSY = "running"  # a cycle holds the lease and the mailbox is marked: that cycle, or the next at once, reads it
RACED = "raced"  # another claimer changed the mailbox first: that claim runs the cycle
REFUSED = "refused"  # the workload may not run now (eligibility); polling resumes it when it may
GONE = "gone"  # the mailbox no longer exists
ATTEMPTS = 5  # compare-and-swap rounds against a worker or a claimer writing the same row


class Waker:
    def __init__(self, store: Store, incoming: Scheduler, act: ActScheduler) -> None:
        self.store = store
        self.incoming = incoming
        self.act = act

    def wake(self, mailbox_id: str, workload: str, now: datetime) -> str:
        """Claim ``workload`` ("incoming" or "act") of the mailbox and queue its cycle, or mark the running
        incoming cycle; ``now`` is when the notification came. Returns what happened."""
        org = self.store.get_organization()
        for _ in range(ATTEMPTS):
            mailbox = self.store.find_mailbox(mailbox_id)
            if mailbox is None:
                return GONE
            profile = self.store.find_profile(mailbox.email_server_profile_id or "")
            reasons = why_not(workload, mailbox, profile, org, now)
            try:
                if RUNNING in reasons:
                    if workload == "incoming" and (mailbox.push_pending_on is None or mailbox.push_pending_on < now):
                        mailbox.push_pending_on = now
                        self.store.mailboxes.update(mailbox)
                    return BUSY
                if reasons:
                    return REFUSED
                if workload == "incoming":
                    self.incoming.claim(mailbox, profile, now)
                else:
                    self.act.claim(mailbox, now)
                return QUEUED
            except ConcurrencyConflict:
                continue  # the row changed (a claim, a worker's release): look again
        return RACED


def push_waker(store: Store, settings: Settings) -> Waker:
    """Claims as the schedulers do; incoming cycles go to their own queue (``mailbox-push``), so a notified
    cycle never waits behind the polling wave a scheduler tick queues."""
    from sync.services import queue_sender  # noqa: PLC0415 (services imports this module's users)

    incoming = Scheduler(store, settings, queue_sender(store, Queue.MAILBOX_PUSH))
    act = ActScheduler(store, settings, queue_sender(store, Queue.ACT_WORK))
    return Waker(store, incoming, act)
