"""The write-behind window: keys in flight conflict, the window is bounded, drain waits for every write."""

from __future__ import annotations

import threading

from sync.incoming.write_behind import WriteBehind, email_key, token_key


def test_a_decision_conflicts_only_with_keys_still_in_flight() -> None:
    release = threading.Event()
    behind = WriteBehind(window=2)
    try:
        future = behind.submit(lambda: release.wait(30), [email_key("a"), token_key("CRM:01")])
        assert behind.conflicts([token_key("CRM:01")])
        assert not behind.conflicts([email_key("b"), token_key("CRM:02")])
        release.set()
        behind.drain()
        assert future.done() and future.result() is True
        assert not behind.conflicts([token_key("CRM:01")])  # written: nothing left to wait for
    finally:
        release.set()
        behind.close()


def test_a_full_window_waits_for_its_oldest_write() -> None:
    first_release, running = threading.Event(), threading.Event()
    order: list[str] = []
    behind = WriteBehind(window=1)
    try:

        def first() -> None:
            running.set()
            first_release.wait(30)
            order.append("first")

        behind.submit(first, ["k1"])
        running.wait(30)
        threading.Timer(0, first_release.set).start()  # released from another thread, whenever it runs
        behind.submit(lambda: order.append("second"), ["k2"])  # returns only after the first write ended
        behind.drain()
        assert order == ["first", "second"]
    finally:
        first_release.set()
        behind.close()
