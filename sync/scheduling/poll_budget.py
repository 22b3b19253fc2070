"""The poll budget: no more incoming cycles per mailbox-hour than Dynamics' cadence — pure.

Dynamics polls a mailbox every 5 minutes at best, 12 cycles an hour whatever the traffic (R-SCH-3/4). The
adaptive ladder (:mod:`sync.scheduling.polling`) polls faster while mail flows; this budget caps it. It is a
token bucket kept as one time on the mailbox row (the generic cell rate algorithm): ``full_on``, when the
bucket is full again. A cycle at ``t`` is within the budget when ``t >= full_on - tolerance``; each cycle
moves ``full_on`` one refill interval on.

The bucket holds ``burst`` cycles, so a mailbox that was idle may take that many in quick succession (the
ladder's fast step); it refills one cycle every ``60 / (cycles_per_hour - burst + 1)`` minutes (5 min 28 s
with the defaults), so that no 60 minutes, wherever they start, hold more than ``cycles_per_hour`` cycles.
A mailbox's first cycle leaves its bucket empty: credit builds up from then on, never from before the
mailbox was scheduled.

Cycles the budget did not schedule (a change notification's, "synchronize now", Test & Enable) are never
delayed by it, but they are counted, and leave the bucket at most empty: they cannot starve the polls after
them by more than one interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


class InvalidPollBudget(ValueError):
    """The burst does not fit in the hourly budget."""


@dataclass(frozen=True)
class PollBudget:
    """``cycles_per_hour`` cycles in any 60 minutes, ``burst`` of them back to back; 0 cycles: no budget."""

    cycles_per_hour: int
    burst: int = 1

    def __post_init__(self) -> None:
        if self.cycles_per_hour < 0 or self.burst < 1:
            raise InvalidPollBudget(f"{self.cycles_per_hour} cycles an hour (>= 0), burst {self.burst} (>= 1)")
        if self.enabled and self.burst > self.cycles_per_hour:
            raise InvalidPollBudget(f"a burst of {self.burst} exceeds {self.cycles_per_hour} cycles an hour")

    @property
    def enabled(self) -> bool:
        return self.cycles_per_hour > 0

    @property
    def interval(self) -> timedelta:
        """One cycle's refill time: with ``burst`` taken at once, the hour still holds no more cycles. Whole
        seconds, rounded up: a rounded-down interval would let 60 minutes hold one cycle too many."""
        return timedelta(seconds=math.ceil(HOUR.total_seconds() / (self.cycles_per_hour - self.burst + 1)))

    @property
    def tolerance(self) -> timedelta:
        """How far ahead of ``full_on`` a cycle may still run: the bucket's ``burst - 1`` further cycles."""
        return self.interval * (self.burst - 1)

    def spend(self, full_on: datetime | None, at: datetime) -> datetime | None:
        """``full_on`` after a cycle at ``at``. None (no cycle yet) and a cycle over the budget both leave the
        bucket empty, never in debt. Without a budget nothing is counted."""
        if not self.enabled:
            return full_on
        empty = at + self.tolerance
        before = empty if full_on is None else min(max(full_on, at), empty)
        return before + self.interval

    def next_allowed(self, full_on: datetime | None) -> datetime | None:
        """The earliest time the bucket holds a cycle; None: any time."""
        if full_on is None or not self.enabled:
            return None
        return full_on - self.tolerance

    def limit(self, due: datetime, full_on: datetime | None) -> datetime:
        """The later of ``due`` (the ladder's) and the time the bucket holds a cycle again."""
        allowed = self.next_allowed(full_on)
        return due if allowed is None or allowed <= due else allowed
