"""A mailbox's recent cycles and the organization's totals, written by the real worker against Dovecot."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sync.model.options import FilteringMethod
from sync.operations.cycles import CycleEntry
from sync.store.cycle_history import RING_SIZE
from tests.integration.incoming.conftest import World, message

pytestmark = pytest.mark.integration

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_each_cycle_that_did_something_is_kept_newest_first(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)
    address = mailbox.email_address or ""
    world.server.deliver(address, message(address, subject="Quote")[0])
    world.server.deliver(address, message(address, sender="stranger@nowhere.test")[0])
    clock = iter([START, START + timedelta(seconds=1), START + timedelta(seconds=1)])
    ticks = iter([100.0, 102.5])
    worker = world.worker(clock=lambda: next(clock, START + timedelta(minutes=5)), monotonic=lambda: next(ticks, 102.5))
    report = world.cycle(mailbox, worker)
    assert (report.tracked, report.not_tracked) == (1, 1)

    (first,) = world.store.cycle_history.recent(mailbox.id)
    assert first.model_dump(exclude={"mailbox_id"}) == {
        "workload": "incoming", "sequence": 0, "started_on": START, "duration_ms": 2500, "listed": 2,
        "tracked": 1, "not_tracked": 1, "failed": 0, "outcome": "processed", "error": None,
        "reasons": {"NoCorrelationMatch": 1},
    }  # fmt: skip

    world.server.deliver(address, message(address, subject="Again")[0])
    world.cycle(mailbox)
    newest, oldest = world.store.cycle_history.recent(mailbox.id)
    assert (newest.sequence, newest.tracked, oldest.sequence) == (1, 1, 0)


def test_an_idle_cycle_is_not_recorded_and_a_failed_one_is(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL, password="wrong password")
    assert world.cycle(mailbox).status == "disabled"
    (failed,) = world.store.cycle_history.recent(mailbox.id)
    assert failed.outcome == "disabled" and failed.error and failed.listed == 0

    idle = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    assert world.cycle(idle).status == "processed"
    assert world.store.cycle_history.recent(idle.id) == []


def test_the_cycle_adds_to_the_totals_of_its_ten_minutes(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.FROM_LEADS_CONTACTS_ACCOUNTS)
    address = mailbox.email_address or ""
    world.server.deliver(address, message(address, sender="nobody@nowhere.test")[0])
    when = datetime(2025, 1, 1, 12, 34, tzinfo=UTC)  # a bucket no other test writes to (before the lease ends)
    world.cycle(mailbox, world.worker(clock=lambda: when))
    (totals,) = world.store.sync_totals.between(when, when).values()
    assert (totals.cycles, totals.tracked, totals.not_tracked, totals.failed) == (1, 0, 1, 0)
    assert totals.reasons == {"NoCorrelationMatch": 1}


def test_the_ring_keeps_the_last_cycles_without_growing(world: World) -> None:
    mailbox_id = str(uuid.uuid4())
    for n in range(RING_SIZE + 5):
        entry = CycleEntry(
            mailbox_id=mailbox_id, workload="incoming", started_on=START + timedelta(minutes=n), duration_ms=n,
            listed=n, outcome="processed",
        )  # fmt: skip
        assert world.store.cycle_history.record(entry).sequence == n
    kept = world.store.cycle_history.recent(mailbox_id)
    assert [e.sequence for e in kept] == list(range(RING_SIZE + 4, 4, -1))
    rows = list(world.store.cycle_history.table.query_entities("PartitionKey eq @pk", parameters={"pk": mailbox_id}))
    assert len(rows) == RING_SIZE + 1  # the slots and the head, never more
