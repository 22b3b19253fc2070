"""The poll budget with explicit times: never more than Dynamics' 12 cycles in any 60 minutes."""

import random
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from sync.scheduling.poll_budget import InvalidPollBudget, PollBudget
from sync.scheduling.polling import next_due

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DYNAMICS = PollBudget(12, burst=2)


def most_in_any_hour(times: list[datetime]) -> int:
    """The most cycles any 60 minutes (half-open, wherever they start) hold."""
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + timedelta(hours=1)) for i, start in enumerate(ordered))


def poll(
    budget: PollBudget, hours: float, *, mail: bool, profile_min: int = 0, idle_until: datetime | None = None
) -> list[datetime]:
    """Cycles as the worker schedules them: the ladder's due time, held by the budget; each at its due time.
    ``idle_until``: after the first cycle, none until then (the bucket fills)."""
    at, full_on, count, times = START, None, 0, []
    while at < START + timedelta(hours=hours):
        times.append(at)
        full_on = budget.spend(full_on, at)
        if idle_until is not None and at < idle_until:
            at = idle_until
            continue
        count = 0 if mail else count + 1
        due = next_due(at, count, busy_minutes=1, idle_max_minutes=12, profile_min_minutes=profile_min)
        at = budget.limit(due, full_on)
    return times


def test_a_mailbox_with_mail_every_cycle_is_polled_at_most_12_times_in_any_hour() -> None:
    times = poll(DYNAMICS, 5, mail=True)
    assert most_in_any_hour(times) == 11  # the steady rate; the burst's 12th needs an idle spell first
    after_idle = poll(DYNAMICS, 5, mail=True, idle_until=START + timedelta(hours=2))
    assert most_in_any_hour(after_idle) == 12  # the full bucket's burst, then the refill: never 13
    without = poll(PollBudget(0), 5, mail=True)
    assert most_in_any_hour(without) == 60  # the ladder alone: a cycle a minute


def test_a_busy_mailbox_settles_on_the_refill_interval() -> None:
    times = poll(DYNAMICS, 3, mail=True)
    gaps = {b - a for a, b in pairwise(times[5:])}
    assert gaps == {timedelta(minutes=5, seconds=28)}  # 3600 s / 11, rounded up: the 12th is the burst's


def test_the_first_cycle_leaves_the_bucket_empty() -> None:
    full_on = DYNAMICS.spend(None, START)
    assert DYNAMICS.next_allowed(full_on) == START + DYNAMICS.interval
    assert DYNAMICS.limit(START + MINUTE, full_on) == START + DYNAMICS.interval


def test_a_mailbox_that_was_idle_takes_its_burst_at_the_busy_step() -> None:
    full_on = DYNAMICS.spend(None, START)
    found_mail = START + timedelta(hours=2)  # idle since: the bucket is full
    full_on = DYNAMICS.spend(full_on, found_mail)
    second = DYNAMICS.limit(found_mail + MINUTE, full_on)
    assert second == found_mail + MINUTE  # the busy step, within the budget
    full_on = DYNAMICS.spend(full_on, second)
    assert DYNAMICS.limit(second + MINUTE, full_on) == found_mail + DYNAMICS.interval * 2 - DYNAMICS.interval


def test_an_idle_mailbox_is_never_held_by_the_budget() -> None:
    """Once the ladder waits longer than the refill interval (8 and 12 minutes), it alone decides."""
    times = poll(DYNAMICS, 5, mail=False)
    gaps = [round((b - a) / MINUTE, 2) for a, b in pairwise(times)]
    assert gaps[:4] == [5.47, 5.47, 8, 12]  # the first cycle emptied the bucket: 2 and 4 minutes are held
    assert set(gaps[3:]) == {12}


def test_the_profile_minimum_stays_a_floor_and_the_budget_adds_nothing_above_it() -> None:
    times = poll(DYNAMICS, 3, mail=True, profile_min=30)
    assert {b - a for a, b in pairwise(times)} == {timedelta(minutes=30)}


def test_a_push_cycle_over_the_budget_leaves_the_bucket_empty_not_in_debt() -> None:
    """Push cycles are not delayed; ten in a minute cost the next poll one interval, not ten."""
    full_on = DYNAMICS.spend(None, START)
    for n in range(10):
        full_on = DYNAMICS.spend(full_on, START + timedelta(seconds=6 * n))
    last = START + timedelta(seconds=54)
    assert DYNAMICS.next_allowed(full_on) == last + DYNAMICS.interval


def test_any_cycles_the_budget_allows_stay_within_it() -> None:
    """Whatever the ladder asks (random traffic, random cycle lengths), the budget's cycles fit the hour."""
    rng = random.Random(20)
    for _ in range(50):
        at, full_on, times = START, None, []
        for _ in range(200):
            times.append(at)
            full_on = DYNAMICS.spend(full_on, at)
            wanted = at + timedelta(seconds=rng.choice((0, 30, 60, 120, 300, 720)))
            at = DYNAMICS.limit(wanted, full_on) + timedelta(seconds=rng.randint(0, 90))  # claimed late, slow
        assert most_in_any_hour(times) <= 12


@pytest.mark.parametrize(("cycles", "burst"), [(12, 13), (-1, 1), (12, 0)])
def test_a_burst_over_the_hour_is_refused(cycles: int, burst: int) -> None:
    with pytest.raises(InvalidPollBudget):
        PollBudget(cycles, burst)


def test_no_budget_holds_nothing() -> None:
    off = PollBudget(0)
    assert off.limit(START, START + timedelta(hours=5)) == START
