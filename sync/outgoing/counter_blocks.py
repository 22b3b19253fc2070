"""Tracking-token counter values taken from the organization row a block at a time.

Every token needs the next value of the organization's counter; taking one value per SendEmail costs a
read and an ETag-checked write of the one row every sender in the organization contends for. A block of
values taken in one such write serves the next sends of this process. Values stay unique while the
counter does not wrap (it wraps by design, R-COR-12); a block left unused when the process ends is only
skipped, which the wrap-around makes harmless.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from sync.model import OrganizationSettings

BLOCK_SIZE = 20  # 2 % of the default 3-digit counter

Reserve = Callable[[int], tuple[OrganizationSettings, list[int]]]


class CounterBlocks:
    """Hands out counter values from the block last reserved; reserves the next block when it runs out."""

    def __init__(self, size: int = BLOCK_SIZE) -> None:
        if size < 1:
            raise ValueError("a block holds at least one value")
        self.size = size
        self._lock = threading.Lock()
        self._org: OrganizationSettings | None = None
        self._values: deque[int] = deque()

    def next(self, reserve: Reserve) -> tuple[OrganizationSettings, int]:
        """The organization as of the reservation (its token shape) and a counter value no one else has."""
        with self._lock:
            if not self._values or self._org is None:
                self._org, values = reserve(self.size)
                self._values.extend(values)
            return self._org, self._values.popleft()
