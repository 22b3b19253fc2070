"""Events, contacts, To Do tasks and the Calendar folder: create, get, PATCH, DELETE, list, ``cancel``, ``instances``.

- ``POST /users/{id}/events`` (or ``/calendar/events``) answers 201 with the event; the mailbox organizes it.
  Graph invites a new event's attendees; ``GraphServer.invitations`` records what attendees were sent.
- a PATCH of a meeting sends its attendees an update, and those taken off it a cancellation;
- ``DELETE`` of a meeting on its organizer's calendar sends the attendees a cancellation ("If the event is a
  meeting, deleting the event on the organizer's calendar sends a cancellation message to the meeting
  attendees"); ``POST /events/{id}/cancel`` (organizer only) sends one with the ``comment``. Both remove it.
- An occurrence id (from ``instances`` or ``calendarView``) can be read, patched (it becomes an exception)
  and deleted (that day is cancelled).
- Lists (``GET /users/{id}/events``, ``/contacts``) understand one ``$filter``: the items carrying an
  extended property of a value, ``singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')``.
- ``GET``/``PATCH /users/{id}/calendar`` read and write the Calendar folder's own extended properties.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any

from tests.graph.api import ApiError, Context, Reply, Request
from tests.graph.pim_state import CALENDAR, CONTACTS, PimItem, PimStore, parse_occurrence_id
from tests.graph.pim_wire import (
    check_all_day,
    checked,
    contact_json,
    event_json,
    expanded_property,
    occurrence_days,
    parse_moment,
    preferred_zone,
    task_json,
    with_expansion,
)
from tests.graph.wire import select_of

ANY_FILTER = re.compile(
    r"^singleValueExtendedProperties/Any\(ep:\s*ep/id eq '((?:[^']|'')*)' and ep/value eq '((?:[^']|'')*)'\)$",
    re.IGNORECASE,
)
DEFAULT_TOP = 10
CALENDAR_FOLDER_ID = "AAMkADcalendar"


# --- events --------------------------------------------------------------------------------------------


def create_event(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    data, extended = checked("event", req.json(), creating=True)
    check_all_day(data)
    data["_organizer"] = {"name": address, "address": address}
    with ctx.state.pim(address) as pim:
        item = pim.add("event", CALENDAR, data, extended or {})
        if data.get("attendees"):
            ctx.state.note_invitation(address, item.id, "invitation")
        return Reply.of_json(201, event_json(item, preferred_zone(req.headers)))


def get_event(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        item, day = _event(pim, params["event"])
        rendered = event_json(item, preferred_zone(req.headers), occurrence=day)
        return Reply.of_json(200, with_expansion(item, rendered, expanded_property(req.query)))


def update_event(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    changes, extended = checked("event", req.json(), creating=False)
    with ctx.state.pim(address) as pim:
        item, day = _event(pim, params["event"])
        before = item.data.get("attendees")
        if day is not None:  # one occurrence: it becomes an exception of its series
            item.exceptions[day] = {**item.exceptions.get(day, {}), **changes}
        else:
            merged = {**item.data, **changes}
            check_all_day(merged)
            item.data = merged
            if extended:
                item.extended.update(extended)
        pim.touch(item)
        if _addresses(before) - _addresses(item.data.get("attendees")):
            ctx.state.note_invitation(address, item.id, "cancellation:")  # to the attendees taken off
        if item.data.get("attendees"):
            ctx.state.note_invitation(address, item.id, "update")
        return Reply.of_json(200, event_json(item, preferred_zone(req.headers), occurrence=day))


def delete_event(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    with ctx.state.pim(address) as pim:
        item, _ = _event(pim, params["event"])
        organizer = (item.data.get("_organizer") or {}).get("address", "").lower() == address.lower()
        if organizer and item.data.get("attendees"):
            ctx.state.note_invitation(address, item.id, "cancellation:")
        _remove_event(pim, params["event"])
    return Reply(204, b"")


def cancel_event(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    """Organizer only: attendees get a cancellation with the comment, then the event is gone (202)."""
    address = params["user"]
    comment = req.json().get("comment", "")
    with ctx.state.pim(address) as pim:
        item, _ = _event(pim, params["event"])
        if (item.data.get("_organizer") or {}).get("address", "").lower() != address.lower():
            raise ApiError(400, "ErrorInvalidRequest", "Your request can't be completed. You need to be an organizer"
                           " to cancel a meeting.")  # fmt: skip
        ctx.state.note_invitation(address, item.id, f"cancellation:{comment}")
        _remove_event(pim, params["event"])
    return Reply(202, b"")


def instances(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    start, end = req.query.get("startDateTime"), req.query.get("endDateTime")
    if not start or not end:
        raise ApiError(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
                       "string parameters StartDateTime and EndDateTime.")  # fmt: skip
    begins, _ = parse_moment({"dateTime": start, "timeZone": "UTC"}, "startDateTime")
    ends, _ = parse_moment({"dateTime": end, "timeZone": "UTC"}, "endDateTime")
    zone_name = preferred_zone(req.headers)
    with ctx.state.pim(params["user"]) as pim:
        item, _ = _event(pim, params["event"])
        if item.data.get("recurrence") is None:
            raise ApiError(400, "ErrorInvalidRequest", "The event is not a recurring series master.")
        found = []
        for day in occurrence_days(item.data["recurrence"], ends.date()):
            if day in item.cancelled:
                continue
            rendered = event_json(item, zone_name, occurrence=day)
            occurrence_start, _ = parse_moment(rendered["start"], "start")
            if begins <= occurrence_start < ends:
                found.append(rendered)
        return Reply.of_json(200, {"value": found})


def list_events(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        found = _filtered(pim, "event", req.query.get("$filter"))
        rendered = [event_json(i, preferred_zone(req.headers)) for i in found]
    return _listing(req, rendered)


def _event(pim: PimStore, ref: str) -> tuple[PimItem, datetime.date | None]:
    occurrence = parse_occurrence_id(ref)
    if occurrence is None:
        return pim.get("event", ref), None
    series = pim.get("event", occurrence[0])
    if occurrence[1] in series.cancelled:
        raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return series, occurrence[1]


def _addresses(attendees: Any) -> set[str]:
    return {str((a.get("emailAddress") or {}).get("address", "")).lower() for a in attendees or []}


def _remove_event(pim: PimStore, ref: str) -> None:
    item, day = _event(pim, ref)
    if day is None:
        pim.remove(item)
    else:
        item.cancelled.add(day)
        item.exceptions.pop(day, None)
        pim.touch(item)


# --- contacts ------------------------------------------------------------------------------------------


def create_contact(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    data, extended = checked("contact", req.json(), creating=True)
    with ctx.state.pim(params["user"]) as pim:
        item = pim.add("contact", CONTACTS, data, extended or {})
        return Reply.of_json(201, contact_json(item, CONTACTS))


def get_contact(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        item = pim.get("contact", params["contact"])
        rendered = _select(contact_json(item, CONTACTS), req.query)
        return Reply.of_json(200, with_expansion(item, rendered, expanded_property(req.query)))


def update_contact(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    changes, extended = checked("contact", req.json(), creating=False)
    with ctx.state.pim(params["user"]) as pim:
        item = pim.get("contact", params["contact"])
        item.data = {**item.data, **changes}
        if extended:
            item.extended.update(extended)
        return Reply.of_json(200, contact_json(pim.touch(item), CONTACTS))


def delete_contact(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        pim.remove(pim.get("contact", params["contact"]))
    return Reply(204, b"")


def list_contacts(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        rendered = [contact_json(i, CONTACTS) for i in _filtered(pim, "contact", req.query.get("$filter"))]
    return _listing(req, rendered)


# --- Microsoft To Do -----------------------------------------------------------------------------------


def task_lists(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        found = [
            {"id": t.id, "displayName": t.name, "isOwner": True, "isShared": False, "wellknownListName": t.well_known}
            for t in pim.task_lists.values()
        ]
    return Reply.of_json(200, {"value": found})


def create_task(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    data, _ = checked("todoTask", req.json(), creating=True)
    linked = [dict(link, id=f"lr-{n}") for n, link in enumerate(data.pop("linkedResources", None) or [])]
    with ctx.state.pim(params["user"]) as pim:
        pim.task_list(params["list"])
        _complete(data)
        item = pim.add("todoTask", f"todo:{params['list']}", data, {}, linked)
        return Reply.of_json(201, with_expansion(item, task_json(item), bool(linked)))


def get_task(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        item = _task(pim, params)
        return Reply.of_json(200, with_expansion(item, task_json(item), expanded_property(req.query)))


def update_task(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    changes, _ = checked("todoTask", req.json(), creating=False)
    changes.pop("linkedResources", None)
    with ctx.state.pim(params["user"]) as pim:
        item = _task(pim, params)
        item.data = {**item.data, **changes}
        _complete(item.data)
        return Reply.of_json(200, task_json(pim.touch(item)))


def delete_task(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    with ctx.state.pim(params["user"]) as pim:
        pim.remove(_task(pim, params))
    return Reply(204, b"")


def _task(pim: PimStore, params: Mapping[str, str]) -> PimItem:
    item = pim.get("todoTask", params["task"])
    if item.collection != f"todo:{params['list']}":
        raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return item


def _complete(data: dict[str, Any]) -> None:
    """To Do stamps the completion time when a task is completed, and drops it when it is reopened."""
    if data.get("status") == "completed":
        if not data.get("completedDateTime"):
            now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            data["completedDateTime"] = {"dateTime": now.isoformat(timespec="microseconds") + "0", "timeZone": "UTC"}
    else:
        data.pop("completedDateTime", None)


# --- the Calendar folder -------------------------------------------------------------------------------


def get_calendar(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    expand = expanded_property(req.query)
    with ctx.state.pim(params["user"]) as pim:
        rendered: dict[str, Any] = {
            "id": CALENDAR_FOLDER_ID,
            "name": "Calendar",
            "canEdit": True,
            "isDefaultCalendar": True,
        }
        found = [
            {"id": p, "value": v}
            for p, v in pim.calendar_extended.items()
            if isinstance(expand, frozenset) and p in expand
        ]
        if found:
            rendered["singleValueExtendedProperties"] = found
    return Reply.of_json(200, rendered)


def update_calendar(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    body = req.json()
    unknown = sorted(set(body) - {"name", "color", "singleValueExtendedProperties"})
    if unknown:
        raise ApiError(
            400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.calendar'."
        )
    _, extended = checked(
        "contact", {"singleValueExtendedProperties": body.get("singleValueExtendedProperties", [])}, creating=False
    )
    with ctx.state.pim(params["user"]) as pim:
        pim.calendar_extended.update(extended or {})
    return Reply.of_json(200, {"id": CALENDAR_FOLDER_ID, "name": "Calendar"})


# --- shared --------------------------------------------------------------------------------------------


def _filtered(pim: PimStore, kind: str, condition: str | None) -> list[PimItem]:
    items = [i for i in pim.items.values() if i.kind == kind]
    if condition is None:
        return items
    found = ANY_FILTER.match(condition.strip())
    if found is None:
        raise ApiError(
            400, "ErrorInvalidUrlQueryFilter", f"This server filters only by an extended property: {condition}"
        )
    asked = [{"id": found.group(1).replace("''", "'"), "value": ""}]
    _, wanted = checked(kind, {"singleValueExtendedProperties": asked}, creating=False)
    prop_id = next(iter(wanted or {}))
    value = found.group(2).replace("''", "'")
    return [i for i in items if i.extended.get(prop_id) == value]


def _select(rendered: dict[str, Any], query: Mapping[str, str]) -> dict[str, Any]:
    select = select_of(query)
    return {k: v for k, v in rendered.items() if not select or k in ("id", "@odata.etag") or k in select}


def _listing(req: Request, rendered: list[dict[str, Any]]) -> Reply:
    top = int(req.query.get("$top", DEFAULT_TOP))
    return Reply.of_json(200, {"value": [_select(r, req.query) for r in rendered[:top]]})
