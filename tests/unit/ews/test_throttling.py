"""How an EWS session honours ErrorServerBusy: wait inside the time budget, otherwise hand back ServerBusy."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from exchangelib.errors import ErrorServerBusy

from sync.mail.backoff import MAX_WAITS
from sync.mail.errors import ServerBusy
from sync.mail.ews.session import EwsSession


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def session(clock: Clock, *, deadline: float | None, calls: int = 4) -> EwsSession:
    account: Any = object()  # the throttling logic never touches the account
    return EwsSession(
        account, max_concurrent_calls=calls, deadline=deadline, limit=100, monotonic=clock.monotonic, sleep=clock.sleep
    )


def busy_then(result: str, times: int, back_off: float) -> Any:
    left = {"n": times}

    def request() -> str:
        if left["n"]:
            left["n"] -= 1
            raise ErrorServerBusy("busy", back_off=back_off)
        return result

    return request


def test_a_back_off_that_fits_the_budget_is_waited_out() -> None:
    clock = Clock()
    assert session(clock, deadline=clock.now + 60).call(busy_then("ok", 1, 2.5), "GetItem") == "ok"
    assert clock.slept == [2.5]


def test_a_back_off_past_the_deadline_is_handed_back_without_sleeping() -> None:
    clock = Clock()
    with pytest.raises(ServerBusy) as caught:
        session(clock, deadline=clock.now + 60).call(busy_then("ok", 1, 120), "GetItem")
    assert caught.value.retry_after_seconds == 120 and clock.slept == []


def test_a_server_that_stays_busy_ends_the_cycle_after_a_few_waits() -> None:
    clock = Clock()
    with pytest.raises(ServerBusy):
        session(clock, deadline=None).call(busy_then("ok", 10, 1), "GetItem")
    assert clock.slept == [1] * MAX_WAITS


def test_requests_in_flight_are_bounded_per_mailbox() -> None:
    clock = Clock()
    bounded = session(clock, deadline=None, calls=2)
    entered, state = threading.Condition(), {"now": 0, "peak": 0}
    gate = threading.Event()

    def request() -> None:
        with entered:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            entered.notify_all()
        gate.wait(timeout=30)  # held until the main thread has seen the bound reached: no sleep racing the threads
        with entered:
            state["now"] -= 1

    threads = [threading.Thread(target=bounded.call, args=(request, "GetItem")) for _ in range(8)]
    for thread in threads:
        thread.start()
    with entered:
        assert entered.wait_for(lambda: state["now"] >= 2, timeout=30)
    gate.set()
    for thread in threads:
        thread.join()
    assert state["peak"] == 2
