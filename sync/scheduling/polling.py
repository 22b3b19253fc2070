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


ACT_BUSY_MINUTES = 5  # N-4: five minutes after a cycle that changed something (SYNC_ACT_POLL_MIN_MINUTES)
ACT_IDLE_MAX_WITH_INCOMING_MINUTES = 15  # up to 15 when the mailbox also receives email (SYNC_ACT_POLL_MAX_MINUTES)
ACT_INCOMING_EXTRA_MINUTES = 3  # R-SCH-7: an ACT-only mailbox tops out 3 minutes sooner (12 with the defaults)
ACT_IDLE_MAX_MINUTES = ACT_IDLE_MAX_WITH_INCOMING_MINUTES - ACT_INCOMING_EXTRA_MINUTES


def act_ceiling(*, also_incoming: bool, min_minutes: int, max_minutes: int) -> int:
    """The longest ACT wait: ``max_minutes`` for a mailbox that also receives email, 3 less for an ACT-only
    one (Dynamics' 15 and 12), never below ``min_minutes``."""
    return max_minutes if also_incoming else max(min_minutes, max_minutes - ACT_INCOMING_EXTRA_MINUTES)


def act_next_due(
    now: datetime,
    no_change_count: int,
    *,
    also_incoming: bool,
    min_minutes: int = ACT_BUSY_MINUTES,
    max_minutes: int = ACT_IDLE_MAX_WITH_INCOMING_MINUTES,
    profile_min_minutes: int = 0,
) -> datetime:
    """R-SCH-7: the next ACT cycle, ``min_minutes`` after changes, growing by 2 per idle cycle up to the ceiling
    (:func:`act_ceiling`); the settings SYNC_ACT_POLL_MIN/MAX_MINUTES give the bounds."""
    ceiling = act_ceiling(also_incoming=also_incoming, min_minutes=min_minutes, max_minutes=max_minutes)
    minutes = min(ceiling, min_minutes + 2 * min(no_change_count, 10_000))
    return now + timedelta(minutes=max(minutes, profile_min_minutes))
