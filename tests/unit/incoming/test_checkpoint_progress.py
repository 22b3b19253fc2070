"""What a checkpoint may cover: the messages before the first whose writes are still in flight."""

from __future__ import annotations

from concurrent.futures import Future

from sync.incoming.checkpoint_progress import CheckpointProgress


def _pending() -> Future[str]:
    return Future()


def _done(outcome: str) -> Future[str]:
    future: Future[str] = Future()
    future.set_result(outcome)
    return future


def test_a_checkpoint_stops_before_the_first_message_still_in_flight() -> None:
    progress: CheckpointProgress[str, str, int] = CheckpointProgress()
    first, third = _pending(), _pending()
    progress.decided("m0", first, 10)
    progress.decided("m1", None, 11)  # decided without a write (not tracked): done at once
    progress.decided("m2", third, 12)
    assert list(progress.finished_at_head()) == []
    assert progress.covered() is None  # m0 is not stored: nothing may be covered, m1 neither
    first.set_result("tracked")
    assert [item for item, _ in progress.finished_at_head()] == ["m0"]
    assert progress.covered() == 11  # m0 and m1; m2 still in flight
    assert progress.covered() is None  # nothing new since
    third.set_result("tracked")
    assert [item for item, _ in progress.finished_at_head()] == ["m2"]
    assert progress.covered() == 12


def test_the_head_is_taken_in_order_even_when_a_later_write_finished_first() -> None:
    progress: CheckpointProgress[str, str, int] = CheckpointProgress()
    first = _pending()
    progress.decided("m0", first, 1)
    progress.decided("m1", _done("tracked"), 2)
    assert list(progress.finished_at_head()) == []  # m1 waits behind m0
    assert progress.covered() is None
    assert [item for item, _ in progress.all_in_flight()] == ["m0", "m1"]  # after a drain: all, in order
    assert progress.covered() == 2
