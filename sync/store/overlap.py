"""Independent storage requests issued together, so their round trips overlap instead of adding up.

Against Azure every Table or Queue request is a network round trip; a path that waits on its independent
writes one by one pays them in sequence. ``overlap`` runs such calls on a small shared pool and waits for
all of them: it returns only when every call has finished, so whatever comes after it (the write that
must follow them all) still follows them all. The first failure is raised after the others are done,
never while one is still in flight. Called from one of the pool's own threads it runs the calls in turn
(a pooled call waiting on calls queued behind it could wait forever).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
THREAD_PREFIX = "storage-overlap"
MAX_IN_FLIGHT = 8  # requests one caller has in flight at once; the HTTP pool keeps 32 connections

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _shared_pool() -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603 (one pool per process, created on first use)
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=4 * MAX_IN_FLIGHT, thread_name_prefix=THREAD_PREFIX)
        return _pool


def overlap(calls: Sequence[Callable[[], T]], *, limit: int = MAX_IN_FLIGHT) -> list[T]:
    """Every call's result, in order; at most ``limit`` in flight; all finished before anything is raised."""
    if len(calls) <= 1 or threading.current_thread().name.startswith(THREAD_PREFIX):
        return [call() for call in calls]
    results: list[T] = []
    first_error: BaseException | None = None
    for start in range(0, len(calls), limit):
        futures: list[Future[T]] = [_shared_pool().submit(call) for call in calls[start : start + limit]]
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:  # re-raised below, once every call of the batch has finished
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
    return results


def start(call: Callable[[], T]) -> Future[T]:
    """``call`` started on the shared pool, for a read wanted a little later (its caller bounds how many)."""
    return _shared_pool().submit(call)
