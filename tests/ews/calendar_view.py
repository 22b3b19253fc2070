"""FindItem with a CalendarView: the appointments of a folder that overlap a time window, by start time.

Simplified: occurrences of a recurring series are not expanded. Exchange lists each occurrence (and
exception) in the window instead of the master; this server lists the RecurringMaster itself, once, when
its series can overlap the window (it starts before the window ends and, with an EndDateRecurrence range,
does not end before the window starts). Clients that need occurrences read the master's Recurrence.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from tests.ews import soap
from tests.ews.errors import StateError
from tests.ews.state import Item
from tests.ews.values import Recurrence


def _instant(view: ET.Element, name: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(view.get(name, ""))
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def _overlaps(item: Item, first: datetime.datetime, last: datetime.datetime) -> bool:
    start, end = item.value("start", datetime.datetime), item.value("end", datetime.datetime)
    if start is None or end is None or start >= last:
        return False
    recurrence = item.value("recurrence", Recurrence)
    if recurrence is None:
        return end > first
    until = recurrence.range_values.get("EndDate") if recurrence.range == "EndDateRecurrence" else None
    return until is None or datetime.date.fromisoformat(until[:10]) >= first.date()


def calendar_view(view: ET.Element, items: Iterable[Item]) -> tuple[ET.Element, Sequence[Item]]:
    """The ``m:RootFolder`` and the items in the view, at most MaxEntriesReturned of them (then
    IncludesLastItemInRange is false). A CalendarView has no paging offset."""
    try:
        first, last = _instant(view, "StartDate"), _instant(view, "EndDate")
    except ValueError as e:
        raise StateError("ErrorSchemaValidation", f"The CalendarView window is not valid: {e}") from e
    if last < first:
        raise StateError("ErrorInvalidRequest", "The CalendarView ends before it starts.")
    found = sorted(
        (i for i in items if _overlaps(i, first, last)), key=lambda i: i.value("start", datetime.datetime) or first
    )
    limit = view.get("MaxEntriesReturned")
    page = found[: int(limit)] if limit else found
    root = soap.element(
        "m:RootFolder", TotalItemsInView=str(len(found)), IncludesLastItemInRange=str(len(page) == len(found)).lower()
    )
    return root, page
