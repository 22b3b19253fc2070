"""The push's batched steps and their failure points (``sync/act/cycle.py``, ``batch_create.py``): links marked
started in one transaction, items created together, links attached in one transaction. Each scenario runs
through EWS and through Microsoft Graph, except the ``$batch`` ones."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from azure.data.tables import TableClient

from sync.act import link_writes
from sync.act.link_index import LOAD_AT
from sync.model import ExchangeItemLookup, ExchangeSyncIdMapping
from sync.model.act import Appointment, Recurrence, RecurrenceKind
from sync.model.options import EntityType
from tests.integration.act.conftest import SOON, ActWorld


class Crash(BaseException):
    """The process dies: nothing after it runs, no handler sees it."""


@pytest.fixture
def act(act_any: ActWorld) -> ActWorld:
    return act_any


def _meetings(act: ActWorld, count: int) -> list[Appointment]:
    return [act.meeting(f"Meeting {n}") for n in range(count)]


def _linked_once(act: ActWorld, meetings: list[Appointment]) -> None:
    """Every meeting has exactly one item, the one its link holds."""
    items = act.remote.items("calendar")
    assert sorted(i.item_id for i in items) == sorted(str(act.link(EntityType.APPOINTMENT, m.id)) for m in meetings)
    assert len(items) == len(meetings)


def test_a_crash_between_the_started_links_and_the_creates_creates_each_item_once_later(
    act: ActWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    meetings = _meetings(act, 3)
    original = link_writes.write_rows

    def dies_after_marking(table: TableClient, rows: Sequence[link_writes.Row]) -> None:
        original(table, rows)
        if all(isinstance(r, ExchangeSyncIdMapping) and r.create_started_on for r in rows):
            raise Crash  # the links say a create started; none was sent

    monkeypatch.setattr(link_writes, "write_rows", dies_after_marking)
    with pytest.raises(Crash):
        act.cycle()
    monkeypatch.setattr(link_writes, "write_rows", original)
    assert act.remote.items("calendar") == []
    link = act.store.act_links.find(act.mailbox.id, EntityType.APPOINTMENT, meetings[0].id)
    assert link is not None and link.create_started_on is not None and link.pending

    report = act.cycle()

    assert (report.created_in_exchange, report.item_errors) == (3, 0)
    _linked_once(act, meetings)
    link = act.store.act_links.find(act.mailbox.id, EntityType.APPOINTMENT, meetings[0].id)
    assert link is not None and link.create_started_on is None and not link.pending


def test_a_crash_after_the_creates_attaches_every_item_by_its_stamp_on_the_next_pull(
    act: ActWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    meetings = _meetings(act, 3)
    original = link_writes.write_rows

    def dies_attaching(table: TableClient, rows: Sequence[link_writes.Row]) -> None:
        if any(isinstance(row, ExchangeItemLookup) for row in rows):
            raise Crash
        original(table, rows)

    monkeypatch.setattr(link_writes, "write_rows", dies_attaching)
    with pytest.raises(Crash):
        act.cycle()
    monkeypatch.setattr(link_writes, "write_rows", original)
    assert len(act.remote.items("calendar")) == 3 and act.link(EntityType.APPOINTMENT, meetings[0].id) is None

    report = act.cycle()

    assert (report.created_in_exchange, report.item_errors) == (0, 0)
    _linked_once(act, meetings)


def test_a_link_the_crm_changes_meanwhile_fails_the_transaction_and_the_others_are_still_created(
    act: ActWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transaction is all or nothing: a conflict on one link writes the step row by row, so only the
    changed record waits for the next cycle (with its new version), and nothing is created twice."""
    meetings = _meetings(act, 3)
    original = link_writes.write_rows
    edited = False

    def crm_writes_first(table: TableClient, rows: Sequence[link_writes.Row]) -> None:
        nonlocal edited
        if not edited:
            edited = True
            fresh = act.store.appointments.get(meetings[1].id, "record")
            fresh.subject = "Meeting 1 (renamed)"
            act.records.update(fresh)  # marks the link pending with a new version: its ETag changes
        original(table, rows)

    monkeypatch.setattr(link_writes, "write_rows", crm_writes_first)
    first = act.cycle()
    monkeypatch.setattr(link_writes, "write_rows", original)

    assert (first.created_in_exchange, first.item_errors) == (2, 1)
    assert act.link(EntityType.APPOINTMENT, meetings[1].id) is None
    second = act.cycle()
    assert (second.created_in_exchange, second.item_errors) == (1, 0)
    _linked_once(act, meetings)
    assert "Meeting 1 (renamed)" in {i.subject for i in act.remote.items("calendar")}


@pytest.mark.parametrize("act_any", ["graph"], indirect=True)
def test_a_create_batch_that_fails_half_way_links_what_was_created_and_retries_the_rest(act: ActWorld) -> None:
    meetings = _meetings(act, 3)
    act.graph.fail_next("event.create", 500, retry_after_s=None, count=1)  # one sub-request of the $batch

    first = act.cycle()

    assert (first.created_in_exchange, first.item_errors) == (2, 1)
    assert len(act.remote.items("calendar")) == 2
    failed = [m for m in meetings if act.link(EntityType.APPOINTMENT, m.id) is None]
    assert len(failed) == 1
    link = act.store.act_links.find(act.mailbox.id, EntityType.APPOINTMENT, failed[0].id)
    assert link is not None and link.retries == 1 and link.pending
    second = act.cycle()
    assert (second.created_in_exchange, second.item_errors) == (1, 0)
    _linked_once(act, meetings)


@pytest.mark.parametrize("act_any", ["graph"], indirect=True)
def test_throttled_creates_of_a_batch_are_sent_again_alone_and_nothing_is_created_twice(act: ActWorld) -> None:
    meetings = _meetings(act, 3)
    act.graph.fail_next("event.create", 429, retry_after_s=0, count=2)

    report = act.cycle()

    assert (report.created_in_exchange, report.item_errors) == (3, 0)
    assert act.graph.calls["event.create"] == 5 and act.graph.calls["batch"] == 2  # 3 sent, 2 of them again
    _linked_once(act, meetings)


def test_an_item_exchange_refuses_in_a_batched_create_is_its_own_error_and_the_others_are_linked(
    ews_act: ActWorld,
) -> None:
    """EWS cannot write a yearly series with an interval: that one item fails in its CreateItem, not the others."""
    act = ews_act
    fine = _meetings(act, 2)
    every_two_years = Recurrence(
        kind=RecurrenceKind.YEARLY, interval=2, day_of_month=SOON.day, month=SOON.month, start=SOON.date()
    )
    refused = act.meeting("Biennial review", recurrence=every_two_years)

    report = act.cycle()

    assert (report.created_in_exchange, report.item_errors) == (2, 1)
    assert act.ews.calls["CreateItem"] == 1  # the two meetings EWS can write, in one request
    _linked_once(act, fine)
    link = act.store.act_links.find(act.mailbox.id, EntityType.APPOINTMENT, refused.id)
    assert link is not None and link.retries == 1 and "yearly" in (link.last_sync_error or "")


def test_a_pull_of_many_changes_recognises_our_own_writes_from_one_read_of_the_links(act: ActWorld) -> None:
    """From LOAD_AT changes in a page the cycle reads the mailbox's links once: our own creates coming back cost
    no Table request each, and the one change made in Outlook among them still reaches the CRM."""
    meetings = _meetings(act, LOAD_AT + 5)
    act.cycle()
    edited = act.link(EntityType.APPOINTMENT, meetings[7].id)
    act.remote.edit(str(edited), subject="Meeting 7 (Outlook)")
    counter = act.store.account.counter
    before = counter.total("table")

    report = act.cycle()

    table_requests = counter.total("table") - before
    assert report.pulled >= len(meetings) and (report.updated_in_crm, report.changes) == (1, 1)
    assert act.store.appointments.get(meetings[7].id, "record").subject == "Meeting 7 (Outlook)"
    assert table_requests < len(meetings)  # two point reads per change would be 2 x 25
