from datetime import UTC, datetime, timedelta

from sync.scheduling.polling import act_next_due, next_due, next_interval


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


NOON = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _act_minutes(count: int, *, also_incoming: bool, **bounds: int) -> float:
    return (act_next_due(NOON, count, also_incoming=also_incoming, **bounds) - NOON).total_seconds() / 60


def test_r_sch_7_act_waits_5_to_12_minutes_or_5_to_15_with_incoming_by_default() -> None:
    assert [_act_minutes(n, also_incoming=False) for n in (0, 1, 3, 4, 100)] == [5, 7, 11, 12, 12]
    assert [_act_minutes(n, also_incoming=True) for n in (0, 4, 5, 100)] == [5, 13, 15, 15]


def test_r_sch_7_the_act_poll_settings_are_the_bounds() -> None:
    assert _act_minutes(0, also_incoming=True, min_minutes=2, max_minutes=30) == 2
    assert _act_minutes(1_000_000, also_incoming=True, min_minutes=2, max_minutes=30) == 30
    assert _act_minutes(1_000_000, also_incoming=False, min_minutes=2, max_minutes=30) == 27
    assert _act_minutes(9, also_incoming=False, min_minutes=10, max_minutes=10) == 10  # never below the minimum
