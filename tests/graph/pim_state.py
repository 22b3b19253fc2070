"""A mailbox's calendar, contacts and Microsoft To Do tasks as the Graph test server keeps them.

Items are kept as the Graph properties a client wrote (already checked by ``pim_values.py``) plus what the
service owns: id, change key, created and modified times, single-value extended properties and, for a
series, its exceptions and cancelled occurrences. Every change appends to the log of its collection
(``calendar``, ``contacts``, ``todo:{listId}``) numbered by the mailbox's one sequence, so the delta routes
serve them exactly as they serve messages (``state.collapse``). A deleted item leaves a tombstone, so a
calendarView delta can still name the occurrences of a deleted series as removed.

An occurrence of a series has an id of its own (opaque to clients) that the server can map back to its
series and day; patching it makes an exception, deleting it cancels that day.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.graph.api import ApiError

CALENDAR = "calendar"
CONTACTS = "contacts"
DEFAULT_TASK_LIST = "Tasks"
OCCURRENCE_TAG = b"occ:"  # inside an occurrence id: which series and day it stands for


@dataclass
class PimItem:
    id: str
    kind: str  # "event" | "contact" | "todoTask"
    collection: str
    data: dict[str, Any]
    created: datetime.datetime
    modified: datetime.datetime
    change_key: str
    extended: dict[str, str] = field(default_factory=dict)  # property id (as Graph spells it) -> value
    linked: list[dict[str, Any]] = field(default_factory=list)  # a To Do task's linkedResources
    exceptions: dict[datetime.date, dict[str, Any]] = field(default_factory=dict)  # series: day -> changed props
    cancelled: set[datetime.date] = field(default_factory=set)  # series: days deleted from it


@dataclass(frozen=True)
class TaskList:
    id: str
    name: str
    well_known: str  # "defaultList" | "none"


@dataclass(frozen=True)
class PimChange:
    seq: int
    item_id: str
    removed: bool


def occurrence_id(series_id: str, day: datetime.date) -> str:
    raw = OCCURRENCE_TAG + f"{series_id}|{day.isoformat()}".encode()
    return "AAMkAG" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_occurrence_id(item_id: str) -> tuple[str, datetime.date] | None:
    if not item_id.startswith("AAMkAG"):
        return None
    text = item_id[len("AAMkAG") :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    if not raw.startswith(OCCURRENCE_TAG):
        return None
    series_id, _, day = raw[len(OCCURRENCE_TAG) :].decode().partition("|")
    return series_id, datetime.date.fromisoformat(day)


class PimStore:
    """One mailbox's PIM items; the caller holds the mailbox lock (``GraphState.pim``)."""

    def __init__(self, tick: Callable[[], int], new_id: Callable[[], str]) -> None:
        self._tick = tick
        self._new_id = new_id
        self.items: dict[str, PimItem] = {}
        self.gone: dict[str, PimItem] = {}  # tombstones, for the removals of a calendarView delta
        self.logs: dict[str, list[PimChange]] = {CALENDAR: [], CONTACTS: []}
        self.task_lists: dict[str, TaskList] = {}
        self.calendar_extended: dict[str, str] = {}  # the Calendar folder's own extended properties
        default = TaskList(new_id(), DEFAULT_TASK_LIST, "defaultList")
        self.task_lists[default.id] = default
        self.logs[f"todo:{default.id}"] = []

    def default_task_list(self) -> TaskList:
        return next(t for t in self.task_lists.values() if t.well_known == "defaultList")

    def task_list(self, list_id: str) -> TaskList:
        if list_id not in self.task_lists:
            raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return self.task_lists[list_id]

    def get(self, kind: str, item_id: str) -> PimItem:
        found = self.items.get(item_id)
        if found is None or found.kind != kind:
            raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return found

    def add(
        self, kind: str, collection: str, data: dict[str, Any], extended: dict[str, str],
        linked: list[dict[str, Any]] | None = None, now: datetime.datetime | None = None, item_id: str | None = None,
    ) -> PimItem:  # fmt: skip
        """``item_id``: the id to give it (the item as another API named it), else a new one."""
        moment = now or _now()
        made_id = item_id or self._new_id()
        item = PimItem(made_id, kind, collection, data, moment, moment, self._new_id(), extended, linked or [])
        self.items[item.id] = item
        self._log(item, removed=False)
        return item

    def touch(self, item: PimItem) -> PimItem:
        """Stamps a change: a new change key and modified time, and an entry in the collection's log."""
        item.change_key = self._new_id()
        item.modified = max(_now(), item.modified + datetime.timedelta(microseconds=1))
        self._log(item, removed=False)
        return item

    def remove(self, item: PimItem) -> None:
        del self.items[item.id]
        self.gone[item.id] = dataclasses.replace(item)
        self._log(item, removed=True)

    def changes(
        self, collection: str, since: int, until: int
    ) -> list[tuple[PimChange, PimItem | None, PimItem | None]]:
        """Last change per item in (since, until]: (change, the item now or None, its tombstone or None)."""
        last: dict[str, PimChange] = {}
        for change in self.logs.get(collection, []):
            if since < change.seq <= until:
                last.pop(change.item_id, None)
                last[change.item_id] = change
        return [(c, self.items.get(c.item_id), self.gone.get(c.item_id)) for c in last.values()]

    def _log(self, item: PimItem, *, removed: bool) -> None:
        self.logs.setdefault(item.collection, []).append(PimChange(self._tick(), item.id, removed))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
