"""What a checkpoint may cover while the writes of later messages are still in flight (pure bookkeeping).

The worker decides messages in order and hands their writes to a window (:mod:`sync.incoming.write_behind`).
A checkpoint must never cover a message whose email is not stored yet: a crash would skip it for ever. It
need not wait for the window either: it covers the messages before the first one still in flight, and the
next checkpoint covers the rest. This keeps, for each message since the last checkpoint, its place and the
progress after it (the folder's watermark), and the writes still in flight in decision order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
Progress = TypeVar("Progress")


class CheckpointProgress(Generic[Item, Outcome, Progress]):
    def __init__(self) -> None:
        self._decided = 0
        self._in_flight: deque[tuple[int, Item, Future[Outcome]]] = deque()
        self._after: deque[tuple[int, Progress]] = deque()

    def decided(self, item: Item, pending: Future[Outcome] | None, after: Progress) -> None:
        """One more message, in order: its writes still ``pending`` (None: done already), ``after`` it."""
        if pending is not None:
            self._in_flight.append((self._decided, item, pending))
        self._after.append((self._decided, after))
        self._decided += 1

    def finished_at_head(self) -> Iterator[tuple[Item, Future[Outcome]]]:
        """The writes finished at the head of the window, in order, taken out of it (the caller records them
        before asking :meth:`covered`)."""
        while self._in_flight and self._in_flight[0][2].done():
            _, item, future = self._in_flight.popleft()
            yield item, future

    def all_in_flight(self) -> Iterator[tuple[Item, Future[Outcome]]]:
        """Every write of the window, in order, taken out of it (after the window was drained)."""
        while self._in_flight:
            _, item, future = self._in_flight.popleft()
            yield item, future

    def covered(self) -> Progress | None:
        """The progress after the last message before the first still in flight; None when no message was
        decided since the last call that could be covered."""
        first_unstored = self._in_flight[0][0] if self._in_flight else self._decided
        covered: Progress | None = None
        while self._after and self._after[0][0] < first_unstored:
            covered = self._after.popleft()[1]
        return covered
