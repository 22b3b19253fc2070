from datetime import UTC, datetime, timedelta

from sync.scheduling.polling import next_due, next_interval


def test_busy_mailboxes_are_polled_every_minute() -> None:
    assert next_interval(0, busy_minutes=1, idle_max_minutes=12) == timedelta(minutes=1)


def test_idle_cycles_double_the_interval_up_to_the_maximum() -> None:
    minutes = [next_interval(n, busy_minutes=1, idle_max_minutes=12).total_seconds() / 60 for n in range(6)]
    assert minutes == [1, 2, 4, 8, 12, 12]


def test_the_profile_minimum_is_a_floor() -> None:
    assert next_interval(0, busy_minutes=1, idle_max_minutes=12, profile_min_minutes=30) == timedelta(minutes=30)


def test_huge_idle_counts_do_not_overflow() -> None:
    assert next_interval(10_000, busy_minutes=1, idle_max_minutes=12) == timedelta(minutes=12)


def test_next_due_adds_the_interval() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_due(now, 2, busy_minutes=1, idle_max_minutes=12) == now + timedelta(minutes=4)
