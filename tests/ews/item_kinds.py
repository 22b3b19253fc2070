"""The item types besides messages, and the values Exchange maintains on them itself.

A client sends some properties and Exchange fills in or corrects others: every item has a Sensitivity and
an Importance, an appointment gets a UID and a free/busy status, and a task's Status, PercentComplete and
CompleteDate are kept consistent with each other. ``Kind.settle`` applies these rules after every create
and update, so items written through SOAP and through the test API end up the same.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tests.ews.errors import StateError

# the fixed prefix of the Global Object IDs Exchange and Outlook give appointments as their UID
UID_PREFIX = "040000008200E00074C5B7101A82E008"
NOT_STARTED, IN_PROGRESS, COMPLETED = "NotStarted", "InProgress", "Completed"

Settle = Callable[[dict[str, object], frozenset[str], datetime.datetime], None]


def _nothing(fields: dict[str, object], changed: frozenset[str], now: datetime.datetime) -> None:
    """Contacts keep what the client sent."""


def _appointment(fields: dict[str, object], changed: frozenset[str], now: datetime.datetime) -> None:
    """An appointment always has a UID, whether or not the client chose one, and never ends before it starts."""
    fields.setdefault("uid", UID_PREFIX + uuid.uuid4().hex.upper())
    start, end = fields.get("start"), fields.get("end")
    if isinstance(start, datetime.datetime) and isinstance(end, datetime.datetime) and end < start:
        raise StateError(
            "ErrorCalendarEndDateIsEarlierThanStartDate", "The end date of the appointment is before its start date."
        )


def _task(fields: dict[str, object], changed: frozenset[str], now: datetime.datetime) -> None:
    """Status and PercentComplete follow each other the way Outlook shows them; the one written last wins
    (Status when both are written). A completed task has a CompleteDate, the time it was completed."""
    status = str(fields.get("status", NOT_STARTED))
    percent = float(str(fields.get("percent_complete", 0)))
    if "status" in changed:
        if status == COMPLETED:
            percent = 100.0
        elif status == NOT_STARTED or percent == 100.0:
            percent = 0.0
    elif "percent_complete" in changed:
        if percent == 100.0:
            status = COMPLETED
        elif percent == 0.0 and status in {COMPLETED, IN_PROGRESS}:
            status = NOT_STARTED
        elif percent > 0.0 and status in {COMPLETED, NOT_STARTED}:
            status = IN_PROGRESS
    fields["status"], fields["percent_complete"] = status, percent
    if status == COMPLETED:
        fields.setdefault("complete_date", now)
    else:
        fields.pop("complete_date", None)


@dataclass(frozen=True)
class Kind:
    """``name`` is the element (``t:CalendarItem``); new items go to ``default_folder`` unless the request
    names a folder; ``defaults`` are the values Exchange reports when a client never set them."""

    name: str
    item_class: str
    default_folder: str
    defaults: Mapping[str, object]
    rules: Settle

    def settle(
        self, fields: Mapping[str, object], changed: frozenset[str], now: datetime.datetime
    ) -> dict[str, object]:
        """``fields`` after the server's own rules; ``changed`` names what this create or update wrote."""
        settled = {**self.defaults, **fields}
        self.rules(settled, changed, now)
        return settled


_ITEM_DEFAULTS = {"sensitivity": "Normal", "importance": "Normal"}
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "CalendarItem",
            "IPM.Appointment",
            "calendar",
            {**_ITEM_DEFAULTS, "is_all_day": False, "legacy_free_busy_status": "Busy"},
            _appointment,
        ),
        Kind("Contact", "IPM.Contact", "contacts", _ITEM_DEFAULTS, _nothing),
        Kind("Task", "IPM.Task", "tasks", _ITEM_DEFAULTS, _task),
    )
}
