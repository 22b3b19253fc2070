"""The poll budget on the real worker, store and mail server: a mailbox that has mail at every cycle is polled
no more often than Dynamics' cadence allows, over simulated hours (each cycle claimed at the due time the
last one set, on an injected clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from sync.model.fields import utcnow
from sync.model.options import FilteringMethod
from sync.scheduling.scheduler import schedule_now
from tests.integration.incoming.conftest import World, message

pytestmark = pytest.mark.integration

CYCLE = timedelta(seconds=20)  # how long each simulated cycle takes: the next due time counts from its end
HOUR = timedelta(hours=1)


def most_in_any_hour(times: list[datetime]) -> int:
    return max(sum(1 for t in times[i:] if t < start + HOUR) for i, start in enumerate(times))


def test_a_mailbox_with_mail_at_every_cycle_is_polled_within_the_budget(world: World) -> None:
    if world.server.name != "dovecot":
        pytest.skip("the budget is the same whatever the server: one server's simulated hour is enough")
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    at = utcnow().replace(microsecond=0)
    started: list[datetime] = []
    held = []
    while not started or started[-1] < started[0] + HOUR + CYCLE:  # a little over an hour: 13 cycles
        world.server.deliver(address, message(address)[0])  # mail at every cycle: the ladder asks for 1 minute
        item = world.claim(mailbox, at)
        end = at + CYCLE
        report = world.worker(clock=lambda end=end: end).run(item)
        assert (report.status, report.tracked) == ("processed", 1)
        started.append(at)
        held.append(report.budget_held)
        due = world.store.get_mailbox(mailbox.id).postpone_mailbox_processing_until
        assert due is not None
        at = due
    assert most_in_any_hour(started) == world.settings.poll_cycles_per_hour - 1  # never 60, nor 12 + 1
    assert all(held)  # every next poll waited for the budget, not for the ladder's minute
    budget = world.worker().poll_budget
    gaps = [b - a for a, b in pairwise(started)]
    assert gaps[0] == CYCLE + budget.interval  # the first cycle emptied the bucket: one interval after its end
    assert set(gaps[1:]) == {budget.interval}  # then the refill rate, start to start


def test_schedule_now_is_not_delayed_by_the_budget(world: World) -> None:
    """An administrator's "synchronize now" (and Test & Enable, which schedules the same way) runs at once,
    though the cycle before it used up the mailbox's budget."""
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    at = utcnow().replace(microsecond=0)
    world.server.deliver(address, message(address)[0])
    report = world.worker(clock=lambda: at + CYCLE).run(world.claim(mailbox, at))
    assert report.budget_held
    held_until = world.store.get_mailbox(mailbox.id).postpone_mailbox_processing_until
    assert held_until is not None and held_until > at + CYCLE + timedelta(minutes=world.settings.poll_busy_minutes)
    now = at + CYCLE + timedelta(seconds=5)
    world.server.deliver(address, message(address)[0])
    schedule_now(world.store, mailbox.id, now)
    again = world.worker(clock=lambda: now + CYCLE).run(world.claim(mailbox, now))
    assert (again.status, again.tracked) == ("processed", 1)


def test_a_backlog_is_drained_at_the_busy_step_whatever_the_budget(world: World) -> None:
    """A cycle that stopped at its cap left mail the server reported: the next one is not a poll, and comes at
    the busy step (a budget-held backlog of 10,000 messages would take 100 cycles of 5 minutes and more)."""
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    for _ in range(3):
        world.server.deliver(address, message(address)[0])
    capped = replace(world, settings=world.settings.model_copy(update={"max_emails_per_cycle": 1}))
    at = utcnow().replace(microsecond=0)
    busy = timedelta(minutes=world.settings.poll_busy_minutes)
    for _ in range(2):
        report = capped.worker(clock=lambda at=at: at + CYCLE).run(capped.claim(mailbox, at))
        assert (report.tracked, report.more_pending, report.budget_held) == (1, True, False)
        due = world.store.get_mailbox(mailbox.id).postpone_mailbox_processing_until
        assert due == at + CYCLE + busy  # not held, though the first cycle emptied the bucket
        assert due is not None
        at = due
    last = capped.worker(clock=lambda: at + CYCLE).run(capped.claim(mailbox, at))
    assert (last.tracked, last.more_pending, last.budget_held) == (1, False, True)  # drained: polling again
