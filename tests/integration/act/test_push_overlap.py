"""ACT pushes of different records overlap, and each record's link is still written before its CreateItem.

On the EWS test server and Azurite; the faults are deterministic (events, and a process "dying" right after
Exchange created an item while other pushes are in flight).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from sync.act.cycle import ActCycle, ActReport
from sync.act.port import ActMailbox, parse_crm_ref
from sync.model.options import EntityType
from tests.integration.act.conftest import ALICE, ActWorld

pytestmark = pytest.mark.integration

PATIENCE_S = 30  # how long a push waits for an event the overlap must set (never reached when it works)


class Killed(BaseException):
    """Stands in for the process dying: nothing catches it."""


class Watched:
    """The real Exchange mailbox, with a hook run in each CreateItem (before or after the real call)."""

    def __init__(self, real: ActMailbox, before: Any = None, after: Any = None) -> None:
        self.real, self.before, self.after = real, before, after

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def create(self, object_type: EntityType, values: Any, ref: str, **kwargs: Any) -> tuple[str, str]:
        if self.before is not None:
            self.before(values, ref)
        created: tuple[str, str] = self.real.create(object_type, values, ref, **kwargs)
        if self.after is not None:
            self.after(values, ref)
        return created


def _cycle(act: ActWorld, before: Any = None, after: Any = None) -> ActReport:
    mailbox = act.store.get_mailbox(act.mailbox.id)
    exchange = Watched(act.connector.open_act(mailbox, act.profile), before, after)
    return ActCycle(act.store, mailbox, exchange, now=lambda: datetime.now(UTC)).run()  # type: ignore[arg-type]


def _subjects(act: ActWorld) -> list[str]:
    return sorted(str(item.subject) for item in act.ews.items(ALICE, "calendar"))


def test_pushes_overlap_and_each_link_is_written_before_its_create(act: ActWorld) -> None:
    meetings = [act.meeting(f"Push {n}") for n in range(4)]
    second_started = threading.Event()
    waited: list[bool] = []
    started_before_create: list[bool] = []

    def before(values: Any, ref: str) -> None:
        parsed = parse_crm_ref(ref)
        assert parsed is not None
        link = act.store.act_links.find(act.mailbox.id, *parsed)
        started_before_create.append(link is not None and link.create_started_on is not None)
        if values.get("subject") == "Push 1":
            second_started.set()
        if values.get("subject") == "Push 0":  # pushed one at a time, the next create could not start first
            waited.append(second_started.wait(PATIENCE_S))

    report = _cycle(act, before)

    assert waited == [True]
    assert started_before_create == [True] * 4
    assert report.created_in_exchange == 4 and report.changes == 4 and report.item_errors == 0
    assert all(act.link(EntityType.APPOINTMENT, m.id) for m in meetings)


def test_a_crash_after_one_create_with_others_in_flight_leaves_no_duplicate(act: ActWorld) -> None:
    meetings = [act.meeting(f"Crash {n}") for n in range(4)]

    def after(values: Any, ref: str) -> None:
        if values.get("subject") == "Crash 2":
            raise Killed  # Exchange has the item; its link never learns the item id

    with pytest.raises(Killed):
        _cycle(act, after=after)
    assert _subjects(act) == [f"Crash {n}" for n in range(4)]
    crashed = meetings[2]
    assert act.link(EntityType.APPOINTMENT, crashed.id) is None
    assert all(act.link(EntityType.APPOINTMENT, m.id) for m in meetings if m is not crashed)  # the others finished

    report = _cycle(act)  # the pull finds the item by the record it carries and attaches it

    assert report.created_in_exchange == 0
    assert _subjects(act) == [f"Crash {n}" for n in range(4)]
    assert all(act.link(EntityType.APPOINTMENT, m.id) for m in meetings)


def test_the_links_of_a_pulled_page_are_read_together_and_our_own_writes_are_skipped(
    act: ActWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        act.meeting(f"Read back {n}")
    assert _cycle(act).created_in_exchange == 3
    real = act.store.act_links.by_item
    calls: list[str] = []
    second_read = threading.Event()
    waited: list[bool] = []

    def by_item(mailbox_id: str, item_id: str) -> Any:
        calls.append(item_id)
        if len(calls) == 2:
            second_read.set()
        if len(calls) == 1:  # read one by one, the second read could not start before this one ends
            waited.append(second_read.wait(PATIENCE_S))
        return real(mailbox_id, item_id)

    monkeypatch.setattr(act.store.act_links, "by_item", by_item)
    report = _cycle(act)  # the pull reads our three creates back

    assert waited == [True]
    assert report.pulled == 3 and report.changes == 0  # each recognised by its change key
