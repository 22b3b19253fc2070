"""Claiming due mailboxes (R-SCH-1/7/9): one design for the incoming and the ACT schedule (docs/scheduling.md).

A timer does not claim: it sends one ``mailbox-claims`` message per due-index shard (:meth:`Claimer.fan_out`),
naming its workload. A queue-triggered claimer (:meth:`Claimer.claim_shard`) reads one page of its shard's
due rows, hands the rest of the shard on as a new message *before* claiming its page (so a large backlog
spreads over as many instances as it has pages), claims the page, and sends the claimed mailboxes' work
items, several per queue message. A claim is one storage request in the steady state:

- **by ticket** (:mod:`sync.scheduling.ticket`): the due row carries what the worker that released the
  mailbox knew of it; the lease is one merge on the mailbox row conditional on that ETag, no read;
- **by reading** (no ticket, or the mailbox, organization or profile changed since): read the mailbox,
  check its lease and eligibility, take the lease by ETag compare-and-swap;
- the page costs one query, the organization and each profile one read, and the work items go
  ``SYNC_WORK_ITEMS_PER_MESSAGE`` to a queue message: a few hundredths of a request per mailbox.

Claiming writes the lease and leaves the due row where it is: the worker moves it to the next due time when
it releases the lease. Until then a claimer that meets the row finds the mailbox busy and leaves it; a row
still due when its lease has expired (the work item was lost, the worker died) is claimed again, breaking
the lease. Mailboxes that are no longer eligible leave the schedule until a change puts them back; a
postponed one moves to its postpone time. Which fields of the mailbox row are the schedule and the lease,
and which eligibility applies, are the workload's :class:`~sync.scheduling.claim_rules.ClaimRules`.

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
from typing import ClassVar

from sync.errors import ConcurrencyConflict, NotFound
from sync.health.alerts import Alerts, mailbox_ref, not_approved_text
from sync.mailboxes.eligibility import Reason
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import utcnow
from sync.scheduling import ticket
from sync.scheduling.claim_rules import ClaimRules
from sync.scheduling.work import ShardWork, WorkBatch, WorkItem
from sync.settings import Settings
from sync.store.due_index import DueEntry, DueIndex, Move, row_key
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


ProfileOf = Callable[[str], EmailServerProfile | None]


class Claimer:
    """Claims one workload's due mailboxes from its due index; a subclass names the workload's ``rules``."""

    rules: ClassVar[ClaimRules]

    @staticmethod
    def index_of(store: Store) -> DueIndex:
        """The workload's due index."""
        raise NotImplementedError

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
        self.due_index = self.index_of(store)
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
        shards = self.due_index.shards()
        for shard in shards:
            self.send_shard(ShardWork(shard=shard, workload=self.rules.workload))
        return FanOutReport(shards=len(shards))

    def claim_shard(self, work: ShardWork) -> TickReport:
        """One ``mailbox-claims`` message: hand the rest of the shard on, then claim this page."""
        if work.workload != self.rules.workload:
            raise ValueError(f"a {work.workload} claim message reached the {self.rules.workload} claimer")
        now = self.clock()
        entries, rest = self.due_index.due_page(
            work.shard, now, page_size=CLAIM_PAGE_SIZE, continuation=work.continuation
        )
        handed_on = 0
        if rest is not None and self.send_shard is not None:
            self.send_shard(ShardWork(shard=work.shard, continuation=rest, workload=self.rules.workload))
            handed_on, rest = 1, None
        report = self.claim_entries(entries, now)
        report.handed_on += handed_on
        while rest is not None:  # no queue to hand on to (tools, tests): the rest in this process
            entries, rest = self.due_index.due_page(work.shard, now, page_size=CLAIM_PAGE_SIZE, continuation=rest)
            report.add(self.claim_entries(entries, now))
        return report

    def tick(self) -> TickReport:
        """Every shard claimed in this process, one after the other (tools and tests; the timer fans out)."""
        report = TickReport()
        for shard in self.due_index.shards():
            report.add(self.claim_shard(ShardWork(shard=shard, workload=self.rules.workload)))
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
                log.exception("claiming the %s of mailbox %s failed; its row stays due", self.rules.workload,
                              entry.mailbox_id)  # fmt: skip
                return _Outcome(("errors",))

        with ThreadPoolExecutor(max_workers=self.settings.scheduler_concurrency) as pool:
            outcomes = list(pool.map(handle, entries))
        for outcome in outcomes:
            report.due += 1
            for name in outcome.counted:
                setattr(report, name, getattr(report, name) + 1)
        self.due_index.apply_many(move for outcome in outcomes for move in outcome.moves)
        report.messages = self._send_all([outcome.item for outcome in outcomes if outcome.item is not None])
        return report

    def claim_mailbox(self, mailbox: Mailbox, now: datetime | None = None) -> WorkItem:
        """Take the lease on ``mailbox`` (as read, ETag-checked) and send its work item (push, tools).

        Raises ConcurrencyConflict when the mailbox changed since it was read.
        """
        item = self._take(mailbox, now or self.clock())
        self.send(item)
        return item

    # --- one due entry ----------------------------------------------------------------------------------
    def _lease(self, now: datetime) -> Lease:
        return Lease(str(uuid.uuid4()), now + timedelta(seconds=self.settings.lease_seconds), now)

    def _by_ticket(
        self, entry: DueEntry, org: OrganizationSettings, profile_of: ProfileOf, now: datetime
    ) -> _Outcome | None:
        """The lease in one conditional merge, when the row's ticket still holds; None: read the mailbox."""
        found = ticket.read(entry.properties or {})
        if found is None:
            return None
        profile = profile_of(found.profile_id)
        if profile is None or not found.holds(org, profile, now):
            return None
        lease = self._lease(now)
        properties = self.rules.lease_properties(lease)
        try:
            taken = self.leases.take_if_unchanged(
                entry.mailbox_id, found.mailbox_etag, found.version, lease, properties
            )
        except NotFound:
            return _Outcome(("stale_rows",), [Move(entry.mailbox_id, entry.row_key, None)])
        if not taken:
            return None  # the mailbox changed since the ticket was written (a lease taken is such a change)
        item = WorkItem(mailbox_id=entry.mailbox_id, lease_id=lease.lease_id, workload=self.rules.workload)
        return _Outcome(("dispatched", "by_ticket"), item=item)

    def _by_reading(self, entry: DueEntry, org: OrganizationSettings, profile_of: ProfileOf, now: datetime) -> _Outcome:
        mailbox = self.store.find_mailbox(entry.mailbox_id)
        if mailbox is None or self.rules.due_row_key(mailbox) != entry.row_key:
            return self._drop_stale(entry, mailbox)
        state = self.rules.lease_state(mailbox, now)
        if state == "held":
            return _Outcome(("busy",))
        if state == "expired":
            self.rules.break_lease(mailbox, now)
            log.warning("breaking the expired %s lease of mailbox %s", self.rules.workload, mailbox.id)
        profile = profile_of(mailbox.email_server_profile_id or "")
        verdict = self.rules.verdict(mailbox, profile, org, now)
        if verdict.eligible:
            item = self._take(mailbox, now)
            return _Outcome(("dispatched", "leases_broken") if state == "expired" else ("dispatched",), item=item)
        until = self.rules.postponed_until(mailbox)
        if set(verdict.reasons) == {Reason.POSTPONED} and until is not None:
            return _Outcome(("postponed",), [self._postpone(mailbox, entry, until)])
        return _Outcome(("unscheduled",), [self._unschedule(mailbox, entry, org, verdict.reasons)])

    def _take(self, mailbox: Mailbox, now: datetime) -> WorkItem:
        """The lease by compare-and-swap of the mailbox as read. The due row stays where it is: while the lease
        holds, claims find the mailbox busy; its worker moves the row when it releases the lease, and if no
        worker ever does, the row is still due when the lease expires and the lease is broken."""
        lease = self._lease(now)
        self.rules.take(mailbox, lease)
        self.store.mailboxes.update(mailbox)
        return WorkItem(mailbox_id=mailbox.id, lease_id=lease.lease_id, workload=self.rules.workload)

    def _postpone(self, mailbox: Mailbox, entry: DueEntry, until: datetime) -> Move:
        key = row_key(mailbox.id, until)
        self.rules.set_due_row_key(mailbox, key)
        self.store.mailboxes.update(mailbox)
        return Move(mailbox.id, entry.row_key, key)

    def _unschedule(
        self, mailbox: Mailbox, entry: DueEntry, org: OrganizationSettings, reasons: tuple[Reason, ...]
    ) -> Move:
        """Leave the schedule; an unapproved address also disables incoming, with R-ELIG-8's alert."""
        alert = self.rules.unschedule(mailbox, reasons)
        self.store.mailboxes.update(mailbox)
        if alert:
            Alerts(self.store).raise_alert(org, not_approved_text(mailbox), mailbox_ref(mailbox), mailbox_id=mailbox.id)
        log.info("mailbox %s leaves the %s schedule: %s", mailbox.id, self.rules.workload, ", ".join(reasons))
        return Move(mailbox.id, entry.row_key, None)

    def _drop_stale(self, entry: DueEntry, mailbox: Mailbox | None) -> _Outcome:
        """A row the mailbox no longer points at: remove it, and restore the mailbox's own row if lost."""
        own = self.rules.due_row_key(mailbox) if mailbox is not None else None
        if mailbox is not None and own and not self.due_index.exists(mailbox.id, own):
            self.due_index.restore(mailbox.id, own)
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
