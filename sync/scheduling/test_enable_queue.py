"""Test & Enable as background work (R-TE-1, R-TE-11): a queue of mailboxes to test, fed by a profile's
"Test & Enable Mailboxes", by ``test_email_configuration_scheduled`` (set by an administrator or by a failed
test's automatic re-test), and drained by a queue trigger, one mailbox per message.

The mailbox row is the durable record: requesting a test sets ``test_email_configuration_scheduled`` and claims
it for ``CLAIM`` by moving ``postpone_test_email_configuration_until`` forward (an ETag compare-and-swap), then
puts a message. If the message is lost, the timer finds the still-scheduled mailbox once the claim has expired
and puts it again. A message is idempotent: it carries when it was requested, and a mailbox tested since then
is not tested again (at-least-once delivery, overlapping ticks). Progress is read from the mailboxes' rows.

The timer reads only what is due: the ``TestEnableIndex`` (``sync/store/test_enable_index.py``) holds a row per
scheduled test at its postpone time, kept in step by every write of a mailbox, so a tick costs one range query
per index shard plus, per due row, a point read of its mailbox and the claim: O(due), whatever the number of
mailboxes. A row the mailbox no longer records (tested, rescheduled, claimed, deleted) is deleted when read.
Deployments whose mailboxes were scheduled before the index existed are indexed once, by the first tick
(:func:`index_scheduled_mailboxes`, the old filtered scan), which then leaves a marker row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from sync.errors import ConcurrencyConflict, NotFound
from sync.model import Mailbox
from sync.model.fields import Str36, utcnow
from sync.model.options import TestStatus
from sync.store.names import Queue
from sync.store.store import Store

log = logging.getLogger(__name__)

CLAIM = timedelta(minutes=15)  # a queued test is not queued again before this, unless it ran
SCHEDULED_FILTER = "test_email_configuration_scheduled eq true"
PROFILE_FILTER = "email_server_profile_id eq @p"


class TestEnableWork(BaseModel):
    """Test ``mailbox_id`` unless it was tested at or after ``requested_on``."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(frozen=True, extra="forbid")

    mailbox_id: Str36
    requested_on: datetime
    by: Str36 | None = None  # who asked (a profile's Test & Enable); None: the schedule
    automatic: bool = True  # a scheduled test or re-test counts towards the re-test limit (R-TE-11)


Enqueue = Callable[[TestEnableWork], object]


@dataclass
class TestEnableTickReport:
    __test__ = False  # not a pytest class

    scheduled: int = 0  # due index rows read
    queued: int = 0
    postponed: int = 0
    conflicts: int = 0
    stale: int = 0  # index rows of a schedule that changed since (deleted)


def _claim(store: Store, mailbox_id: str, now: datetime, *, ready: Callable[[Mailbox], bool]) -> Mailbox | None:
    """Mark the mailbox scheduled and claimed until ``now + CLAIM``; None when ``ready`` says not now."""
    claimed: list[Mailbox] = []

    def take(m: Mailbox) -> None:
        claimed.clear()
        if ready(m):
            m.test_email_configuration_scheduled = True
            m.postpone_test_email_configuration_until = now + CLAIM
            claimed.append(m)

    try:
        saved = store.mailboxes.modify(mailbox_id, "mailbox", take, attempts=1)
    except ConcurrencyConflict:
        return None
    return saved if claimed else None


def request_tests(
    store: Store, mailbox_ids: Iterable[str], enqueue: Enqueue, *, by: str | None, now: datetime
) -> list[str]:
    """Queue a Test & Enable of each mailbox (a profile's "Test & Enable Mailboxes"); the ids queued."""
    queued = []
    for mailbox_id in mailbox_ids:
        mailbox = store.mailboxes.modify(mailbox_id, "mailbox", lambda m: _mark(m, now))
        enqueue(TestEnableWork(mailbox_id=mailbox.id, requested_on=now, by=by, automatic=False))
        queued.append(mailbox.id)
    return queued


def request_profile_tests(store: Store, profile_id: str, *, by: str | None, now: datetime) -> list[str]:
    """A profile's "Test & Enable Mailboxes": queue each of its mailboxes (NotFound for an unknown profile)."""
    store.get_profile(profile_id)
    queue = store.account.queue(Queue.TEST_AND_ENABLE)
    ids = [m.id for m in store.mailboxes.query(PROFILE_FILTER, {"p": profile_id})]
    return request_tests(store, ids, lambda w: queue.send_message(w.model_dump_json()), by=by, now=now)


@dataclass(frozen=True)
class MailboxProgress:
    mailbox_id: str
    name: str
    tested: bool  # tested at or after the request
    status: TestStatus  # its last test's result
    tested_on: datetime | None


@dataclass(frozen=True)
class ProfileProgress:
    """How far a profile's Test & Enable got, read from its mailboxes' rows (one filtered query)."""

    profile_id: str
    since: datetime | None
    mailboxes: list[MailboxProgress]

    @property
    def pending(self) -> int:
        return sum(not m.tested for m in self.mailboxes)

    @property
    def succeeded(self) -> int:
        return sum(m.tested and m.status is TestStatus.SUCCESS for m in self.mailboxes)

    @property
    def failed(self) -> int:
        return sum(m.tested and m.status is TestStatus.FAILURE for m in self.mailboxes)


def profile_progress(store: Store, profile_id: str, since: datetime | None) -> ProfileProgress:
    """Each mailbox of the profile: tested since ``since`` (the request's time; None: ever) or not yet."""
    store.get_profile(profile_id)
    rows = []
    for m in store.mailboxes.query(PROFILE_FILTER, {"p": profile_id}):
        last = m.test_and_enable_last_attempted_on
        tested = last is not None and (since is None or last >= since)
        rows.append(MailboxProgress(m.id, m.name, tested, m.mailbox_status, last))
    return ProfileProgress(profile_id, since, rows)


def _mark(mailbox: Mailbox, now: datetime) -> None:
    mailbox.test_email_configuration_scheduled = True
    mailbox.postpone_test_email_configuration_until = now + CLAIM


class TestEnableScheduler:
    """The timer's tick: queue every scheduled mailbox whose postpone time has passed."""

    __test__ = False  # not a pytest class

    def __init__(self, store: Store, enqueue: Enqueue, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.enqueue = enqueue
        self.clock = clock

    def tick(self) -> TestEnableTickReport:
        now = self.clock()
        report = TestEnableTickReport()
        index_scheduled_mailboxes(self.store)
        for mailbox_id, key in self.store.test_enable_index.due(now):
            report.scheduled += 1
            mailbox = self.store.find_mailbox(mailbox_id)
            if mailbox is None or mailbox.test_enable_row_key != key:
                self.store.test_enable_index.remove(mailbox_id, key)
                report.stale += 1
                continue
            if not _due(mailbox, now):  # due later within the index's second
                report.postponed += 1
                continue
            claimed = _claim(self.store, mailbox.id, now, ready=lambda m: _due(m, now))
            if claimed is None:  # changed meanwhile: the next tick reads its row again
                report.conflicts += 1
                continue
            self.store.test_enable_index.remove(mailbox_id, key)  # the claim put the row of its own expiry
            self.enqueue(TestEnableWork(mailbox_id=claimed.id, requested_on=now))
            report.queued += 1
        return report


def index_scheduled_mailboxes(store: Store) -> int:
    """Once per deployment: index the mailboxes scheduled before the index existed (one filtered scan of
    Mailboxes), then leave a marker row so no tick scans again. Returns how many were indexed."""
    if store.test_enable_index.backfilled():
        return 0
    indexed = 0
    for mailbox in store.mailboxes.query(SCHEDULED_FILTER):
        if mailbox.test_enable_row_key is None:
            store.mailboxes.modify(mailbox.id, "mailbox", lambda m: None)  # the write puts its index row
            indexed += 1
    store.test_enable_index.mark_backfilled()
    return indexed


def _due(mailbox: Mailbox, now: datetime) -> bool:
    until = mailbox.postpone_test_email_configuration_until
    return mailbox.test_email_configuration_scheduled and (until is None or until <= now)


def already_tested(mailbox: Mailbox, work: TestEnableWork) -> bool:
    """A duplicate or late message: the mailbox was tested after it was requested."""
    last = mailbox.test_and_enable_last_attempted_on
    return last is not None and last >= work.requested_on


def handle(store: Store, tester: Callable[[TestEnableWork], object], work: TestEnableWork) -> str:
    """Run one queued test: "tested", "done" (already tested since the request) or "missing"."""
    try:
        mailbox = store.get_mailbox(work.mailbox_id)
    except NotFound:
        log.info("Test & Enable of mailbox %s skipped: it no longer exists", work.mailbox_id)
        return "missing"
    if already_tested(mailbox, work):
        return "done"
    tester(work)
    return "tested"
