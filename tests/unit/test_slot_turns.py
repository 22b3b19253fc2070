"""Who comes before whom among the mailboxes waiting for a connection slot (sync.store.slots' turns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.store.slots import waiters_ahead

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_a_newcomer_comes_after_every_waiter() -> None:
    assert waiters_ahead({"a": T0, "b": T0 + timedelta(seconds=1)}, "c") == 2
    assert waiters_ahead({}, "c") == 0


def test_a_waiter_comes_after_those_that_began_waiting_first() -> None:
    waiting = {"a": T0, "b": T0 + timedelta(minutes=1), "c": T0 + timedelta(minutes=2)}
    assert [waiters_ahead(waiting, name) for name in ("a", "b", "c")] == [0, 1, 2]


def test_waiters_of_the_same_moment_are_ordered_by_name_so_every_instance_agrees() -> None:
    waiting = {"b": T0, "a": T0}
    assert (waiters_ahead(waiting, "a"), waiters_ahead(waiting, "b")) == (0, 1)
