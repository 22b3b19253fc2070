"""Adaptive polling (R-SCH-4/5/8) — pure.

A mailbox that is receiving mail is polled every ``busy`` minutes; each consecutive cycle without mail
doubles the interval up to ``idle_max`` (1, 2, 4, 8, 12 with the defaults). The profile's minimum
polling interval is a floor (R-SCH-8: ``max(adaptive, minPolling)``). Dynamics polls every 5 minutes and
up to 12; polling faster while mail flows is where this service's lower latency comes from.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def next_interval(
    no_email_count: int, *, busy_minutes: int, idle_max_minutes: int, profile_min_minutes: int = 0
) -> timedelta:
    """The wait before the next incoming cycle after ``no_email_count`` consecutive empty cycles."""
    adaptive = min(idle_max_minutes, busy_minutes * (2 ** min(no_email_count, 16)))
    return timedelta(minutes=max(adaptive, profile_min_minutes, 0))


def next_due(
    now: datetime, no_email_count: int, *, busy_minutes: int, idle_max_minutes: int, profile_min_minutes: int = 0
) -> datetime:
    return now + next_interval(
        no_email_count,
        busy_minutes=busy_minutes,
        idle_max_minutes=idle_max_minutes,
        profile_min_minutes=profile_min_minutes,
    )


ACT_BUSY_MINUTES = 5  # N-4: five minutes after a cycle that changed something
ACT_IDLE_MAX_MINUTES = 12  # N-4: up to 12 minutes while nothing changes ...
ACT_IDLE_MAX_WITH_INCOMING_MINUTES = 15  # ... 15 when the mailbox also receives email (R-SCH-7)


def act_next_due(now: datetime, no_change_count: int, *, also_incoming: bool, profile_min_minutes: int = 0) -> datetime:
    """R-SCH-7: the next ACT cycle, 5 minutes after changes, growing by 2 per idle cycle up to 12 (or 15)."""
    ceiling = ACT_IDLE_MAX_WITH_INCOMING_MINUTES if also_incoming else ACT_IDLE_MAX_MINUTES
    minutes = min(ceiling, ACT_BUSY_MINUTES + 2 * no_change_count)
    return now + timedelta(minutes=max(minutes, profile_min_minutes))
