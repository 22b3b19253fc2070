"""What reached the server: every call by route, and how many ran at once per mailbox.

Exchange Online lets an app have 4 requests in flight per mailbox and answers the fifth 429
("MailboxConcurrency"); the server enforces the same limit, and records the highest concurrency it saw so
a test can prove a client's bound rather than infer it from timings.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

MAILBOX_CONCURRENCY = 4  # Outlook's per-app, per-mailbox limit on concurrent requests


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    route: str
    mailbox: str | None  # None for calls outside a mailbox ($batch itself)


class Traffic:
    def __init__(self, mailbox_limit: int | None = MAILBOX_CONCURRENCY) -> None:
        self.mailbox_limit = mailbox_limit
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._in_flight: Counter[str | None] = Counter()
        self._peak: Counter[str | None] = Counter()
        self._total = 0
        self._total_peak = 0

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    @contextmanager
    def in_flight(self, mailbox: str | None) -> Iterator[bool]:
        """Counts the call as running for its mailbox; yields False when that breaks the mailbox limit."""
        key = mailbox.lower() if mailbox else None
        with self._lock:
            self._in_flight[key] += 1
            self._peak[key] = max(self._peak[key], self._in_flight[key])
            self._total += 1
            self._total_peak = max(self._total_peak, self._total)
            admitted = key is None or self.mailbox_limit is None or self._in_flight[key] <= self.mailbox_limit
        try:
            yield admitted
        finally:
            with self._lock:
                self._in_flight[key] -= 1
                self._total -= 1

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(call.route for call in self._calls)

    def peak(self, mailbox: str | None = None) -> int:
        """Most calls seen at once for ``mailbox``, or for all mailboxes together when None."""
        with self._lock:
            return self._total_peak if mailbox is None else self._peak[mailbox.lower()]

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._peak.clear()
            self._total_peak = 0
