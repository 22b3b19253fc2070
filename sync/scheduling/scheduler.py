"""The scheduler (R-SCH-1/9): find due mailboxes, claim each with a lease, fan out work items.

The timer does not claim: it sends one ``mailbox-claims`` message per due-index shard (:meth:`fan_out`).
A queue-triggered claimer (:meth:`Scheduler.claim_shard`) reads one page of its shard's due rows, hands the
rest of the shard on as a new message *before* claiming its page (so a large backlog spreads over as many
instances as it has pages), claims the page, and sends the claimed mailboxes' work items, several per
queue message. A claim is one storage request in the steady state:

- **by ticket** (:mod:`sync.scheduling.ticket`): the due row carries what the worker that released the
  mailbox knew of it; the lease is one merge on the mailbox row conditional on that ETag, no read;
- **by reading** (no ticket, or the mailbox, organization or profile changed since): read the mailbox,
  check its lease and eligibility, take the lease by ETag compare-and-swap, as the tick always did;
- the page costs one query, the organization and each profile one read, and the work items go
  ``SYNC_WORK_ITEMS_PER_MESSAGE`` to a queue message: a few hundredths of a request per mailbox.

Claiming writes the lease (``host_id`` = a new lease id, ``lease_expires_on`` = now + function timeout +
2 min) and leaves the due row where it is: the worker moves it to the next due time when it releases the
lease. Until then a claimer that meets the row finds the mailbox busy and leaves it; a row still due when
its lease has expired (the work item was lost, the worker died) is claimed again, breaking the lease, and
counted (``forced_unlock_count``). Mailboxes that are no longer eligible leave the schedule until a change
(Test & Enable, approval, enabling) puts them back with :func:`schedule_now`; a postponed one moves to its
postpone time.

Exactly one lease per claim, with any number of claimers on the same rows: a lease is only ever taken by a
write conditional on the mailbox row's ETag, by ticket or after a read, so of two claimers of one due row
one wins and the other sees the row changed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from sync.errors import ConcurrencyConflict, NotFound
from sync.health.alerts import Alerts, mailbox_ref, not_approved_text
from sync.mailboxes import eligibility
from sync.mailboxes.eligibility import Reason
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import utcnow
from sync.model.options import ProcessingState
from sync.scheduling import ticket
from sync.scheduling.work import ShardWork, WorkBatch, WorkItem
from sync.settings import Settings
from sync.store.due_index import DueEntry, Move, row_key
from sync.store.mailbox_lease import Lease, MailboxLeases
from sync.store.store import Store

log = logging.getLogger(__name__)

CLAIM_PAGE_SIZE = 500  # due rows one claimer takes; a bigger backlog is handed on page by page to other instances


@dataclass
class TickReport:
    due: int = 0
    dispatched: int = 0  # claimed and sent (including those whose expired lease was broken)
    busy: int = 0
    leases_broken: int = 0
    postponed: int = 0
    unscheduled: int = 0
    stale_rows: int = 0
    conflicts: int = 0
    errors: int = 0  # a storage error on one row: it stays due (a lease taken but unanswered expires)
    by_ticket: int = 0  # of the dispatched: claimed without reading the mailbox row
    handed_on: int = 0  # pages of the shard sent on to another claimer
    messages: int = 0  # work-item messages sent

    def add(self, other: TickReport) -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class FanOutReport:
    shards: int = 0


@dataclass
class _Outcome:
    """What claiming one due entry led to: the report fields it counts in, due-row moves, a work item."""

    counted: tuple[str, ...]
    moves: list[Move] = field(default_factory=list)
    item: WorkItem | None = None


def schedule_now(store: Store, mailbox_id: str, now: datetime | None = None) -> Mailbox:
    """Put a mailbox on the schedule, due now (after creation, Test & Enable, approval...)."""
    when = now or utcnow()

    def due_now(mailbox: Mailbox) -> None:
        mailbox.due_row_key = row_key(mailbox.id, when)
        mailbox.postpone_mailbox_processing_until = None  # "now" overrides the polling interval, not error backoff

    before = store.get_mailbox(mailbox_id).due_row_key
    mailbox = store.mailboxes.modify(mailbox_id, "mailbox", due_now)
    store.due_index.move(mailbox_id, before, when)
    return mailbox


class Scheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        send: Callable[[WorkItem], None],
        clock: Callable[[], datetime] = utcnow,
        *,
        send_batch: Callable[[WorkBatch], None] | None = None,
        send_shard: Callable[[ShardWork], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.send = send
        self.send_batch = send_batch
        self.send_shard = send_shard
        self.clock = clock
        self.leases = MailboxLeases(store.mailboxes.table)

    # --- the timer and the claimers ---------------------------------------------------------------------
    def fan_out(self) -> FanOutReport:
        """The timer's tick: one claim message per due-index shard."""
        if self.send_shard is None:
            raise RuntimeError("this scheduler has no mailbox-claims queue to fan out to")
        shards = self.store.due_index.shards()
        for shard in shards:
            self.send_shard(ShardWork(shard=shard))
        return FanOutReport(shards=len(shards))

    def claim_shard(self, work: ShardWork) -> TickReport:
        """One ``mailbox-claims`` message: hand the rest of the shard on, then claim this page."""
        now = self.clock()
        entries, rest = self.store.due_index.due_page(
            work.shard, now, page_size=CLAIM_PAGE_SIZE, continuation=work.continuation
        )
        handed_on = 0
        if rest is not None and self.send_shard is not None:
            self.send_shard(ShardWork(shard=work.shard, continuation=rest))
            handed_on, rest = 1, None
        report = self.claim_entries(entries, now)
        report.handed_on += handed_on
        while rest is not None:  # no queue to hand on to (tools, tests): the rest in this process
            entries, rest = self.store.due_index.due_page(work.shard, now, page_size=CLAIM_PAGE_SIZE, continuation=rest)
            report.add(self.claim_entries(entries, now))
        return report

    def tick(self) -> TickReport:
        """Every shard claimed in this process, one after the other (tools and tests; the timer fans out)."""
        report = TickReport()
        for shard in self.store.due_index.shards():
            report.add(self.claim_shard(ShardWork(shard=shard)))
        return report

    def claim_entries(self, entries: Sequence[DueEntry], now: datetime) -> TickReport:
        """Claim due entries (concurrently: each is independent), then move their rows and send their work."""
        report = TickReport()
        if not entries:
            return report
        org = self.store.get_organization()
        profiles: dict[str, EmailServerProfile | None] = {}
        lock = threading.Lock()

        def profile_of(profile_id: str) -> EmailServerProfile | None:
            with lock:  # read each profile once per page, even when several threads want it at once
                if profile_id not in profiles:
                    profiles[profile_id] = self.store.find_profile(profile_id) if profile_id else None
                return profiles[profile_id]

        def handle(entry: DueEntry) -> _Outcome:
            try:
                return self._by_ticket(entry, org, profile_of, now) or self._by_reading(entry, org, profile_of, now)
            except ConcurrencyConflict:
                return _Outcome(("conflicts",))  # someone else changed the mailbox: the next tick looks again
            except Exception:  # one mailbox's storage error must not lose the page's other claims
                log.exception("claiming mailbox %s failed; its row stays due", entry.mailbox_id)
                return _Outcome(("errors",))

        with ThreadPoolExecutor(max_workers=self.settings.scheduler_concurrency) as pool:
            outcomes = list(pool.map(handle, entries))
        for outcome in outcomes:
            report.due += 1
            for name in outcome.counted:
                setattr(report, name, getattr(report, name) + 1)
        self.store.due_index.apply_many(move for outcome in outcomes for move in outcome.moves)
        report.messages = self._send_all([outcome.item for outcome in outcomes if outcome.item is not None])
        return report

    # --- one due entry ----------------------------------------------------------------------------------
    def _by_ticket(
        self, entry: DueEntry, org: OrganizationSettings, profile_of: Callable[[str], EmailServerProfile | None],
        now: datetime,
    ) -> _Outcome | None:  # fmt: skip
        """The lease in one conditional merge, when the row's ticket still holds; None: read the mailbox."""
        found = ticket.read(entry.properties or {})
        if found is None:
            return None
        profile = profile_of(found.profile_id)
        if profile is None or not found.holds(org, profile, now):
            return None
        lease_id = str(uuid.uuid4())
        lease = Lease(lease_id, now + timedelta(seconds=self.settings.lease_seconds), now)
        try:
            taken = self.leases.take_if_unchanged(entry.mailbox_id, found.mailbox_etag, found.version, lease)
        except NotFound:
            return _Outcome(("stale_rows",), [Move(entry.mailbox_id, entry.row_key, None)])
        if not taken:
            return None  # the mailbox changed since the ticket was written (a lease taken is such a change)
        return _Outcome(("dispatched", "by_ticket"), item=WorkItem(mailbox_id=entry.mailbox_id, lease_id=lease_id))

    def _by_reading(
        self, entry: DueEntry, org: OrganizationSettings, profile_of: Callable[[str], EmailServerProfile | None],
        now: datetime,
    ) -> _Outcome:  # fmt: skip
        mailbox = self.store.find_mailbox(entry.mailbox_id)
        if mailbox is None or mailbox.due_row_key != entry.row_key:
            return self._drop_stale(entry, mailbox)
        broken = False
        if mailbox.processing_state is ProcessingState.PROCESSING:
            if mailbox.lease_expires_on is not None and mailbox.lease_expires_on > now:
                return _Outcome(("busy",))
            mailbox.forced_unlock_count += 1
            mailbox.last_forced_unlock_on = now
            broken = True
            log.warning("breaking the expired lease of mailbox %s (holder %s)", mailbox.id, mailbox.host_id)
        profile = profile_of(mailbox.email_server_profile_id or "")
        verdict = eligibility.incoming(mailbox, profile, org, now)
        if verdict.eligible:
            item = self._take(mailbox, now)
            return _Outcome(("dispatched", "leases_broken") if broken else ("dispatched",), item=item)
        if set(verdict.reasons) == {Reason.POSTPONED}:
            return _Outcome(("postponed",), [self._postpone(mailbox, entry)])
        return _Outcome(("unscheduled",), [self._unschedule(mailbox, entry, org, verdict.reasons)])

    def claim(self, mailbox: Mailbox, profile: EmailServerProfile | None, now: datetime | None = None) -> WorkItem:
        """Take the lease on ``mailbox`` (as read, ETag-checked) and send its work item.

        ``profile`` is the mailbox's (kept for callers; a claim no longer predicts the next due time from it).
        Raises ConcurrencyConflict when the mailbox changed since it was read.
        """
        del profile
        item = self._take(mailbox, now or self.clock())
        self.send(item)
        return item

    def _take(self, mailbox: Mailbox, now: datetime) -> WorkItem:
        """The lease by compare-and-swap of the mailbox as read. The due row stays where it is: while the lease
        holds, claims find the mailbox busy; its worker moves the row when it releases the lease, and if no
        worker ever does, the row is still due when the lease expires and the lease is broken."""
        lease_id = str(uuid.uuid4())
        mailbox.processing_state = ProcessingState.PROCESSING
        mailbox.host_id = lease_id
        mailbox.lease_expires_on = now + timedelta(seconds=self.settings.lease_seconds)
        mailbox.processing_last_attempted_on = now
        self.store.mailboxes.update(mailbox)
        return WorkItem(mailbox_id=mailbox.id, lease_id=lease_id)

    def _postpone(self, mailbox: Mailbox, entry: DueEntry) -> Move:
        until = max(t for t in (mailbox.postpone_mailbox_processing_until, mailbox.receiving_postponed_until) if t)
        mailbox.due_row_key = row_key(mailbox.id, until)
        self.store.mailboxes.update(mailbox)
        return Move(mailbox.id, entry.row_key, mailbox.due_row_key)

    def _unschedule(
        self, mailbox: Mailbox, entry: DueEntry, org: OrganizationSettings, reasons: tuple[Reason, ...]
    ) -> Move:
        """Leave the schedule; an unapproved address also disables incoming, with R-ELIG-8's alert."""
        unapproved = Reason.NOT_APPROVED in reasons and mailbox.enabled_for_incoming
        mailbox.due_row_key = None
        mailbox.processing_state = ProcessingState.IDLE
        mailbox.host_id = None
        if unapproved:
            mailbox.enabled_for_incoming = False
        self.store.mailboxes.update(mailbox)
        if unapproved:
            Alerts(self.store).raise_alert(org, not_approved_text(mailbox), mailbox_ref(mailbox), mailbox_id=mailbox.id)
        return Move(mailbox.id, entry.row_key, None)

    def _drop_stale(self, entry: DueEntry, mailbox: Mailbox | None) -> _Outcome:
        """A row the mailbox no longer points at: remove it, and restore the mailbox's own row if lost."""
        if (
            mailbox is not None
            and mailbox.due_row_key
            and not self.store.due_index.exists(mailbox.id, mailbox.due_row_key)
        ):
            self.store.due_index.restore(mailbox.id, mailbox.due_row_key)
        return _Outcome(("stale_rows",), [Move(entry.mailbox_id, entry.row_key, None)])

    # --- fan-out of the work ----------------------------------------------------------------------------
    def _send_all(self, items: list[WorkItem]) -> int:
        """Send the claimed mailboxes' work items, several per queue message; returns the messages sent."""
        per_message = self.settings.work_items_per_message if self.send_batch is not None else 1
        sent = 0
        for start in range(0, len(items), per_message):
            chunk = items[start : start + per_message]
            if len(chunk) == 1 or self.send_batch is None:
                self.send(chunk[0])
            else:
                self.send_batch(WorkBatch(items=chunk))
            sent += 1
        return sent
