"""Turns for connection slots: who gets the next free slot of a scope (pure; the rows come from storage).

A mailbox refused a slot used to come back a minute later with every other due mailbox and win one at
random: under sustained contention (hundreds of Graph mailboxes on one profile) it could lose at every try
and its mail was not read for many minutes. With turns, a refused taker leaves a waiting row and the slots
that come free go to the waiters in the order they began waiting; a newcomer takes a free slot only when
more are free than waiters are waiting.

A slot handed to a waiter is *kept* for it (its row names the waiter, with a short expiry) until its cycle
comes to take it: the giver wakes it at once (:mod:`sync.store.slots`), so the slot is idle for a queue
delivery, not until the next scheduler tick.

Rows of a scope's partition (table ``ConnectionSlots``):

- ``000``..``299``: a slot held (``holder``) or kept for a waiter (``holder`` = :data:`KEPT_PREFIX` + the
  waiter), with ``expires_on``;
- :data:`WAITER_PREFIX` + the waiter: a waiter, with ``since`` (when it first waited) and ``expires_on``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sync.store.keys import safe_key

WAITER_PREFIX = "w-"  # RowKeys of waiters sort after the slot numbers
WAITER_KEYS_END = "w."  # the first RowKey after every waiter's ("." follows "-")
KEPT_PREFIX = "kept-for:"  # the holder of a slot kept for a waiter


@dataclass(frozen=True)
class Waiter:
    name: str
    since: datetime  # when it was first refused: its place in line


@dataclass
class ScopeView:
    """What a scope's rows say at one moment."""

    free: list[int] = field(default_factory=list)  # slot numbers nobody holds (absent, or expired past the grace)
    kept: dict[str, int] = field(default_factory=dict)  # waiter -> the slot kept for it (live)
    waiting: list[Waiter] = field(default_factory=list)  # live waiters without a kept slot, first come first
    etags: dict[int, str] = field(default_factory=dict)  # the slot rows that exist: replace them, do not insert
    listed: set[str] = field(default_factory=set)  # every live waiting row's waiter, kept slot or not

    def ahead_of(self, name: str | None) -> int:
        """How many waiters come before ``name``: all of them for a newcomer."""
        for index, waiter in enumerate(self.waiting):
            if waiter.name == name:
                return index
        return len(self.waiting)

    def waiter(self, name: str) -> Waiter | None:
        return next((w for w in self.waiting if w.name == name), None)


def waiter_key(name: str) -> str:
    return WAITER_PREFIX + safe_key(name)


def slot_key(number: int) -> str:
    return f"{number:03d}"


def scope_view(
    rows: Iterable[Mapping[str, Any]], limit: int, now: datetime, grace: timedelta, etag: Callable[[Any], str]
) -> ScopeView:
    """The free slots below ``limit`` (a row expired ``grace`` ago is free), the slots kept for waiters and
    the waiters in turn order. ``etag(row)`` reads a row's ETag.

    Waiters of the same moment are ordered by name, so every instance agrees on the order."""
    view = ScopeView()
    live_waiters: list[Waiter] = []
    expiry: dict[int, datetime] = {}
    for row in rows:
        key = str(row["RowKey"])
        if key.startswith(WAITER_PREFIX):
            if row["expires_on"] > now:
                live_waiters.append(Waiter(str(row["waiter"]), row["since"]))
            continue
        number = int(key)
        view.etags[number], expiry[number] = etag(row), row["expires_on"]
        holder = str(row.get("holder", ""))
        if holder.startswith(KEPT_PREFIX) and row["expires_on"] > now:
            view.kept[holder.removeprefix(KEPT_PREFIX)] = number
    view.free = [n for n in range(limit) if n not in expiry or expiry[n] + grace <= now]
    view.listed = {w.name for w in live_waiters}
    view.waiting = sorted((w for w in live_waiters if w.name not in view.kept), key=lambda w: (w.since, w.name))
    return view
