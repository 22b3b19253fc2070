"""Who gets the next free connection slot of a scope (sync.store.slot_turns), from the scope's rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync.store.slot_turns import KEPT_PREFIX, scope_view, slot_key, waiter_key

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
GRACE = timedelta(seconds=5)


def _slot(number: int, holder: str, expires_on: datetime) -> dict[str, Any]:
    return {"RowKey": slot_key(number), "holder": holder, "expires_on": expires_on, "etag": f"e{number}"}


def _waiter(name: str, since: datetime, expires_on: datetime = T0 + timedelta(minutes=3)) -> dict[str, Any]:
    return {"RowKey": waiter_key(name), "waiter": name, "since": since, "expires_on": expires_on}


def _view(rows: list[dict[str, Any]], limit: int = 3) -> Any:
    return scope_view(rows, limit, T0, GRACE, lambda row: str(row["etag"]))


def test_waiters_are_served_in_the_order_they_began_waiting() -> None:
    view = _view([_waiter("c", T0 - timedelta(seconds=1)), _waiter("a", T0 - timedelta(minutes=2)),
                  _waiter("b", T0 - timedelta(minutes=1))])  # fmt: skip
    assert [w.name for w in view.waiting] == ["a", "b", "c"]
    assert [view.ahead_of(name) for name in ("a", "b", "c")] == [0, 1, 2]
    assert view.ahead_of("newcomer") == 3  # after every waiter


def test_waiters_of_the_same_moment_are_ordered_by_name_so_every_instance_agrees() -> None:
    view = _view([_waiter("b", T0), _waiter("a", T0)])
    assert [w.name for w in view.waiting] == ["a", "b"]


def test_an_expired_waiter_holds_nobody_up() -> None:
    view = _view([_waiter("gone", T0 - timedelta(minutes=9), expires_on=T0), _waiter("b", T0)])
    assert [w.name for w in view.waiting] == ["b"]


def test_free_slots_are_the_absent_ones_and_those_expired_past_the_grace() -> None:
    view = _view([_slot(0, "h0", T0 + timedelta(seconds=30)), _slot(1, "h1", T0 - timedelta(seconds=2))], limit=3)
    assert view.free == [2]  # slot 1 expired only 2 s ago: its holder's clock may be behind
    later = scope_view([_slot(1, "h1", T0 - GRACE)], 3, T0, GRACE, lambda row: str(row["etag"]))
    assert later.free == [0, 1, 2]
    assert view.etags == {0: "e0", 1: "e1"}  # existing rows are replaced, never inserted over


def test_a_slot_kept_for_a_waiter_is_not_free_and_its_waiter_is_not_waiting_any_more() -> None:
    view = _view([_slot(0, KEPT_PREFIX + "a", T0 + timedelta(seconds=60)), _waiter("b", T0)], limit=2)
    assert (view.kept, view.free, [w.name for w in view.waiting]) == ({"a": 0}, [1], ["b"])


def test_a_kept_slot_whose_waiter_never_came_is_free_again() -> None:
    view = _view([_slot(0, KEPT_PREFIX + "a", T0 - GRACE)], limit=1)
    assert (view.kept, view.free) == ({}, [0])


def test_slots_above_a_lowered_limit_are_not_free() -> None:
    assert _view([], limit=2).free == [0, 1]
