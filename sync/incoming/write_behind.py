"""The email writes of a cycle overlapped, while every decision is still taken in order.

Storing a tracked email is its blobs (attachments, a very long body) and one insert (plus its idempotent
index rows); against Azure each is a network round trip, and a cycle that waits for each before deciding
the next message is latency-bound. Here the worker decides message after message as before and hands each
one's writes to a small window of requests in flight. Four rules keep the guarantees of the sequential
cycle:

- a decision never reads what a write in flight will change: every write names the keys it touches (the
  email id, its tracking token, conversation and smart-matching signature), every decision names the
  keys it read, and a decision that read one of them waits for the window to empty and is taken again;
- a checkpoint never covers a message whose email row is not stored yet: it covers the messages before
  the first one still in flight (:mod:`sync.incoming.checkpoint_progress`), without waiting for the
  window, and the end of a folder or of an Exchange page waits for it (:meth:`WriteBehind.drain`); a
  crash re-fetches what was not covered and the insert-if-absent makes that a replay, never a second email;
- an email's blobs and its row are one job, blobs first: the row never points at a blob not stored yet;
- the window is bounded (``window`` writes): memory and connections stay flat.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
WINDOW = 8  # writes in flight per cycle; the storage HTTP pool keeps 32 connections per process


def email_key(email_id: str) -> str:
    return f"email:{email_id}"


def token_key(token: str) -> str:
    return f"token:{token}"


def conversation_key(conversation: str) -> str:
    return f"conversation:{conversation}"


def signature_key(signature: str) -> str:
    return f"smart:{signature}"


class WriteBehind:
    """A bounded window of write jobs in flight, each with the keys it touches."""

    def __init__(self, window: int = WINDOW) -> None:
        if window < 1:
            raise ValueError("the window holds at least one write")
        self.window = window
        self._pool = ThreadPoolExecutor(max_workers=window, thread_name_prefix="email-writes")
        self._lock = threading.Lock()
        self._in_flight: list[tuple[frozenset[str], Future[object]]] = []

    def conflicts(self, keys: Iterable[str]) -> bool:
        """Whether a write in flight touches any of ``keys`` (what a decision just read)."""
        wanted = set(keys)
        with self._lock:
            return any(not touched.isdisjoint(wanted) for touched, _ in self._in_flight)

    def submit(self, write: Callable[[], T], touches: Iterable[str]) -> Future[T]:
        """Start ``write``; first waits for the oldest write when the window is full."""
        with self._lock:
            self._in_flight = [(k, f) for k, f in self._in_flight if not f.done()]
            oldest = self._in_flight[0][1] if len(self._in_flight) >= self.window else None
        if oldest is not None:
            wait([oldest])
        future: Future[T] = self._pool.submit(write)
        with self._lock:
            self._in_flight.append((frozenset(touches), future))  # type: ignore[arg-type]
        return future

    def drain(self) -> None:
        """Wait until no write is in flight (their results and errors stay with their futures)."""
        with self._lock:
            futures = [f for _, f in self._in_flight]
        wait(futures)
        with self._lock:
            self._in_flight = [(k, f) for k, f in self._in_flight if not f.done()]

    def close(self) -> None:
        self.drain()
        self._pool.shutdown(wait=True)
