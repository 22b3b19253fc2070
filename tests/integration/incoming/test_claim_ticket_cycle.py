"""The real worker leaves a claim ticket on the due row it moves, and the next claim uses it (one request)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.model.fields import utcnow
from sync.model.options import FilteringMethod
from sync.scheduling import ticket
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.work import WorkItem
from sync.store.due_index import DueEntry, row_key
from tests.integration.incoming.conftest import World, message

pytestmark = pytest.mark.integration


def _own_row(world: World, mailbox_id: str) -> DueEntry:
    """The mailbox's due row, with its properties (read a day ahead: whatever its due time)."""
    due_index = world.store.due_index
    mailbox = world.store.get_mailbox(mailbox_id)
    far = mailbox.last_sync_started_on or mailbox.modified_on
    assert far is not None
    entries, _ = due_index.due_page(due_index.shard(mailbox_id), far + timedelta(days=1), page_size=1000)
    (own,) = [e for e in entries if e.mailbox_id == mailbox_id]
    assert own.row_key == mailbox.due_row_key
    return own


def test_a_cycle_leaves_a_ticket_the_next_claim_uses(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "")[0])
    assert world.cycle(mailbox).tracked == 1  # claimed by reading: schedule_now leaves no ticket
    row = _own_row(world, mailbox.id)
    assert ticket.read(row.properties or {}) is not None
    sent: list[WorkItem] = []
    counter = world.store.account.counter
    before = counter.total("table")
    at = row.due_on + timedelta(seconds=1)  # a row's time is in whole seconds; the postpone time it stands for is not
    report = Scheduler(world.store, world.settings, sent.append, lambda: at).claim_entries([row], at)
    assert (report.dispatched, report.by_ticket) == (1, 1)
    assert counter.total("table") - before <= 3  # the merge; the organization and the profile once per page
    again = world.worker().run(sent[0])  # the lease the ticket took is the worker's
    assert (again.status, again.listed) == ("processed", 0)
    assert ticket.read(_own_row(world, mailbox.id).properties or {}) is not None


def test_the_next_due_time_is_set_at_the_end_of_the_cycle(world: World) -> None:
    """R-SCH-2: the claim leaves the due row alone; the cycle's end (its clock) sets the next due time."""
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", message(mailbox.email_address or "")[0])
    scheduled = world.store.get_mailbox(mailbox.id).due_row_key
    item = world.claim(mailbox)
    assert world.store.get_mailbox(mailbox.id).due_row_key == scheduled
    end = utcnow().replace(microsecond=0) + timedelta(minutes=7)  # a long cycle: it ends 7 minutes later
    assert world.worker(clock=lambda: end).run(item).tracked == 1
    busy = timedelta(minutes=world.settings.poll_busy_minutes)  # it found mail: polled again soon,
    soon = max(busy, world.worker().poll_budget.interval)  # when its budget allows (a first cycle empties it)
    assert world.store.get_mailbox(mailbox.id).due_row_key == row_key(mailbox.id, end + soon)
