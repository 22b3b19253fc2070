"""When a message whose processing failed is tried again, and when it is given up (R-REC-9, R-ERR-8, R-SCH-15) — pure.

Dynamics retries a failed auto-tracked item in later cycles, about every 15 minutes, up to 5 times (about
75 minutes after the first failure), then marks it "Tracked to Dynamics 365 (Undeliverable)" and stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ITEM_RETRIES = 5  # tries after the first (Dynamics: "retried ... up to 5 times"), so six tries in all
ITEM_RETRY_MINUTES = 15  # "the next synchronization cycle (typically 15 minutes)"


@dataclass(frozen=True)
class ItemVerdict:
    """What follows a failed try: another one at ``retry_on``, or give up (quarantine, Undeliverable)."""

    attempt: int
    retry_on: datetime | None

    @property
    def give_up(self) -> bool:
        return self.retry_on is None


def after_failure(attempts_before: int, now: datetime) -> ItemVerdict:
    """The verdict after the try numbered ``attempts_before + 1`` failed."""
    attempt = attempts_before + 1
    if attempt > ITEM_RETRIES:
        return ItemVerdict(attempt, None)
    return ItemVerdict(attempt, now + timedelta(minutes=ITEM_RETRY_MINUTES))
