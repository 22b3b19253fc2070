"""Events, contacts and To Do tasks in Graph v1.0's JSON: what a client may write, and how items read back.

Written from the event, contact, todoTask, dateTimeTimeZone, patternedRecurrence and
singleValueLegacyExtendedProperty resources of the Graph v1.0 reference:

- a property the resource does not have is refused with 400 ``RequestBodyRead``, a read-only one is ignored;
- ``start``/``end`` are a local ``dateTime`` in a ``timeZone`` (Windows or IANA name); the event keeps that
  zone as ``originalStartTimeZone`` and reads back in UTC unless the request says ``Prefer:
  outlook.timezone="..."``; an all-day event must start and end at midnight in its zone;
- a series (``recurrence`` set) is a ``seriesMaster``; its occurrences come from ``instances`` and
  ``calendarView``, each ``occurrence`` or ``exception`` naming its ``seriesMasterId``;
- single-value extended properties are written in the item's own POST/PATCH body and read only with
  ``$expand=singleValueExtendedProperties($filter=id eq '...')``;
- To Do tasks set ``completedDateTime`` themselves when ``status`` becomes ``completed``.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from tests.graph.api import ApiError
from tests.graph.pim_state import PimItem, occurrence_id

EVENT_WRITABLE = frozenset({
    "subject", "body", "start", "end", "isAllDay", "location", "showAs", "attendees", "recurrence",
    "isReminderOn", "reminderMinutesBeforeStart", "categories", "importance", "sensitivity",
    "singleValueExtendedProperties",
})  # fmt: skip
CONTACT_WRITABLE = frozenset({
    "givenName", "surname", "displayName", "emailAddresses", "jobTitle", "companyName", "businessPhones",
    "mobilePhone", "homePhones", "businessAddress", "homeAddress", "otherAddress", "categories", "fileAs",
    "singleValueExtendedProperties",
})  # fmt: skip
TASK_WRITABLE = frozenset({
    "title", "body", "dueDateTime", "startDateTime", "completedDateTime", "status", "importance",
    "isReminderOn", "categories", "linkedResources",
})  # fmt: skip
READ_ONLY = frozenset({"id", "@odata.etag", "@odata.type", "changeKey", "createdDateTime", "lastModifiedDateTime"})
SHOW_AS = frozenset({"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"})
TASK_STATUS = frozenset({"notStarted", "inProgress", "completed", "waitingOnOthers", "deferred"})
PATTERNS = frozenset({"daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"})
RANGES = frozenset({"endDate", "noEnd", "numbered"})
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EXTENDED_ID = re.compile(r"^\s*String\s+\{[0-9a-fA-F-]{36}\}\s+Name\s+\S.*$")
EXPAND_FILTER = re.compile(r"^singleValueExtendedProperties\(\$filter=(.+)\)$", re.IGNORECASE)
ID_EQ = re.compile(r"id eq '((?:[^']|'')*)'", re.IGNORECASE)
PREFER_ZONE = re.compile(r'outlook\.timezone="([^"]+)"', re.IGNORECASE)
MAX_OCCURRENCES = 1000  # expanded per series and request: enough for any window a test asks


# --- time zones ------------------------------------------------------------------------------------------


def zone(name: str) -> datetime.tzinfo:
    """A Windows or IANA zone name, as Graph accepts both; 400 for anything else."""
    if name.upper() == "UTC":
        return datetime.UTC
    try:
        return zoneinfo.ZoneInfo(MS_TIMEZONE_TO_IANA_MAP.get(name, name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified: {name}"
        ) from None


def parse_moment(value: Any, what: str) -> tuple[datetime.datetime, str]:
    """A dateTimeTimeZone: its UTC instant, and the zone it was given in."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ApiError(400, "RequestBodyRead", f"{what} must be a dateTimeTimeZone object.")
    name = str(value.get("timeZone") or "UTC")
    try:
        local = datetime.datetime.fromisoformat(value["dateTime"][:26].rstrip("Z"))
    except ValueError:
        raise ApiError(400, "RequestBodyRead", f"Cannot convert {value['dateTime']!r} to a date and time.") from None
    return local.replace(tzinfo=zone(name)).astimezone(datetime.UTC), name


def render_moment(instant: datetime.datetime, zone_name: str) -> dict[str, str]:
    local = instant.astimezone(zone(zone_name)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="microseconds") + "0", "timeZone": zone_name}


def preferred_zone(headers: Mapping[str, str]) -> str:
    found = PREFER_ZONE.search(headers.get("prefer", ""))
    if found:
        zone(found.group(1))
        return found.group(1)
    return "UTC"


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- checking what a client writes -------------------------------------------------------------------------


def checked(kind: str, body: Mapping[str, Any], *, creating: bool) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The writable properties of ``body`` and its extended properties (None: not given)."""
    writable = {"event": EVENT_WRITABLE, "contact": CONTACT_WRITABLE, "todoTask": TASK_WRITABLE}[kind]
    unknown = sorted(k for k in body if k not in writable and k not in READ_ONLY)
    if unknown:
        raise ApiError(
            400, "RequestBodyRead", f"The property '{unknown[0]}' does not exist on type 'microsoft.graph.{kind}'."
        )
    data = {k: v for k, v in body.items() if k in writable and k != "singleValueExtendedProperties"}
    extended = _extended(body["singleValueExtendedProperties"]) if "singleValueExtendedProperties" in body else None
    if kind == "event":
        _check_event(data, creating=creating)
    elif kind == "todoTask":
        _check_task(data, creating=creating)
    if "categories" in data and not _strings(data["categories"]):
        raise ApiError(400, "RequestBodyRead", "categories must be a collection of strings.")
    return data, extended


def _extended(value: Any) -> dict[str, str]:
    if not isinstance(value, list):
        raise ApiError(400, "RequestBodyRead", "singleValueExtendedProperties must be a collection.")
    found: dict[str, str] = {}
    for prop in value:
        prop_id = prop.get("id") if isinstance(prop, dict) else None
        if not isinstance(prop_id, str) or not EXTENDED_ID.match(prop_id) or not isinstance(prop.get("value"), str):
            raise ApiError(400, "ErrorInvalidProperty", f"Invalid extended property: {prop!r}")
        found[_canonical_property_id(prop_id)] = prop["value"]
    return found


def _canonical_property_id(prop_id: str) -> str:
    """Graph matches property ids case-insensitively on the GUID and the type."""
    kind, guid, _, name = prop_id.split(maxsplit=3)
    return f"{kind} {guid.lower()} Name {name}"


def _check_event(data: dict[str, Any], *, creating: bool) -> None:
    if creating and ("start" not in data or "end" not in data):
        raise ApiError(400, "ErrorInvalidRequest", "An event needs a start and an end.")
    for name in ("start", "end"):
        if name in data:
            parse_moment(data[name], name)
    if "showAs" in data and data["showAs"] not in SHOW_AS:
        raise ApiError(400, "RequestBodyRead", f"The value {data['showAs']!r} is not valid for showAs.")
    for attendee in data.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}).get("address") if isinstance(attendee, dict) else None
        if not isinstance(address, str) or attendee.get("type", "required") not in ("required", "optional", "resource"):
            raise ApiError(400, "RequestBodyRead", f"Invalid attendee: {attendee!r}")
    if data.get("recurrence") is not None:
        _check_recurrence(data["recurrence"])


def _check_recurrence(value: Any) -> None:
    pattern = value.get("pattern") if isinstance(value, dict) else None
    span = value.get("range") if isinstance(value, dict) else None
    if not isinstance(pattern, dict) or pattern.get("type") not in PATTERNS:
        raise ApiError(400, "ErrorInvalidRecurrence", f"Invalid recurrence pattern: {pattern!r}")
    if not isinstance(span, dict) or span.get("type") not in RANGES or not span.get("startDate"):
        raise ApiError(400, "ErrorInvalidRecurrence", f"Invalid recurrence range: {span!r}")
    if pattern["type"] == "weekly" and not pattern.get("daysOfWeek"):
        raise ApiError(400, "ErrorInvalidRecurrence", "A weekly pattern needs daysOfWeek.")
    if span["type"] == "endDate" and not span.get("endDate"):
        raise ApiError(400, "ErrorInvalidRecurrence", "An endDate range needs its endDate.")
    if span["type"] == "numbered" and not int(span.get("numberOfOccurrences") or 0) > 0:
        raise ApiError(400, "ErrorInvalidRecurrence", "A numbered range needs numberOfOccurrences.")


def check_all_day(data: Mapping[str, Any]) -> None:
    """Graph refuses an all-day event whose start or end is not a midnight in its zone."""
    if not data.get("isAllDay"):
        return
    for name in ("start", "end"):
        instant, zone_name = parse_moment(data[name], name)
        local = instant.astimezone(zone(zone_name))
        if (local.hour, local.minute, local.second, local.microsecond) != (0, 0, 0, 0):
            raise ApiError(
                400, "ErrorInvalidRequest",
                "Your request can't be completed. If the event is an all-day event, the start and end times must be"
                " at midnight.",
            )  # fmt: skip


def _check_task(data: dict[str, Any], *, creating: bool) -> None:
    if creating and not str(data.get("title") or "").strip():
        raise ApiError(400, "invalidRequest", "A task needs a title.")
    if "status" in data and data["status"] not in TASK_STATUS:
        raise ApiError(400, "invalidRequest", f"The value {data['status']!r} is not valid for status.")
    for name in ("dueDateTime", "startDateTime", "completedDateTime"):
        if data.get(name) is not None:
            parse_moment(data[name], name)
    for link in data.get("linkedResources") or []:
        if not isinstance(link, dict) or not link.get("applicationName"):
            raise ApiError(400, "invalidRequest", "A linked resource needs its applicationName.")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# --- reading back ------------------------------------------------------------------------------------------


def expanded_property(query: Mapping[str, str]) -> frozenset[str] | bool:
    """The extended property ids ``$expand`` asks for (``id eq '...'`` joined by ``or``); False when nothing is
    expanded, True for ``linkedResources``; 400 for any other expand."""
    text = (query.get("$expand") or "").strip()
    if not text:
        return False
    if text.lower() == "linkedresources":
        return True
    found = EXPAND_FILTER.match(text)
    if found is None:
        raise ApiError(400, "BadRequest", f"This server expands only extended properties by id: {text}")
    ids = [ID_EQ.fullmatch(part.strip()) for part in re.split(r"\s+or\s+", found.group(1))]
    if not all(ids):
        raise ApiError(400, "BadRequest", f"Invalid filter in $expand: {found.group(1)}")
    return frozenset(_canonical_property_id(m.group(1).replace("''", "'")) for m in ids if m)


def _common(item: PimItem) -> dict[str, Any]:
    return {
        "@odata.etag": f'W/"{item.change_key}"',
        "id": item.id,
        "createdDateTime": iso(item.created),
        "lastModifiedDateTime": iso(item.modified),
        "categories": list(item.data.get("categories") or []),
    }


def with_expansion(item: PimItem, rendered: dict[str, Any], expand: frozenset[str] | bool) -> dict[str, Any]:
    if expand is False:
        return rendered
    if item.kind == "todoTask":
        rendered["linkedResources"] = [dict(link) for link in item.linked]
    elif isinstance(expand, frozenset):
        found = [{"id": p, "value": v} for p, v in item.extended.items() if p in expand]
        if found:
            rendered["singleValueExtendedProperties"] = found
    return rendered


def event_json(item: PimItem, zone_name: str, occurrence: datetime.date | None = None) -> dict[str, Any]:
    """A single event or series master; with ``occurrence``, that day of the series (with its exception)."""
    data = dict(item.data)
    series = data.get("recurrence") is not None
    start, start_zone = parse_moment(data["start"], "start")
    end, _ = parse_moment(data["end"], "end")
    kind = "seriesMaster" if series else "singleInstance"
    rendered_id = item.id
    if occurrence is not None:
        shift = day_shift(start, start_zone, occurrence)
        start, end = start + shift, end + shift
        override = item.exceptions.get(occurrence)
        kind = "exception" if override else "occurrence"
        if override:
            data.update(override)
            if "start" in override:
                start, _ = parse_moment(override["start"], "start")
            if "end" in override:
                end, _ = parse_moment(override["end"], "end")
        rendered_id = occurrence_id(item.id, occurrence)
    location = data.get("location") or {}
    return {
        **_common(item),
        "id": rendered_id,
        "changeKey": item.change_key,
        "originalStartTimeZone": start_zone,
        "originalEndTimeZone": parse_moment(data["end"], "end")[1],
        "subject": data.get("subject") or "",
        "body": dict(data.get("body") or {"contentType": "text", "content": ""}),
        "isAllDay": bool(data.get("isAllDay")),
        "isCancelled": False,
        "isOrganizer": True,
        "isReminderOn": bool(data.get("isReminderOn", True)),
        "reminderMinutesBeforeStart": int(data.get("reminderMinutesBeforeStart", 15)),
        "showAs": data.get("showAs") or "busy",
        "importance": data.get("importance") or "normal",
        "sensitivity": data.get("sensitivity") or "normal",
        "type": kind,
        "seriesMasterId": item.id if occurrence is not None else None,
        "start": render_moment(start, zone_name),
        "end": render_moment(end, zone_name),
        "location": {"displayName": location.get("displayName", ""), "locationType": "default"},
        "attendees": [
            {
                "type": a.get("type", "required"),
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": dict(a["emailAddress"]),
            }
            for a in data.get("attendees") or []
        ],
        "organizer": {"emailAddress": dict(data.get("_organizer") or {})},
        "recurrence": data.get("recurrence") if occurrence is None else None,
    }


def contact_json(item: PimItem, folder_id: str) -> dict[str, Any]:
    data = item.data
    given, surname = data.get("givenName"), data.get("surname")
    display = data.get("displayName") or " ".join(p for p in (given, surname) if p)
    return {
        **_common(item),
        "changeKey": item.change_key,
        "parentFolderId": folder_id,
        "displayName": display,
        "givenName": given,
        "surname": surname,
        "fileAs": data.get("fileAs") or "",
        "jobTitle": data.get("jobTitle"),
        "companyName": data.get("companyName"),
        "emailAddresses": [dict(e) for e in data.get("emailAddresses") or []],
        "businessPhones": list(data.get("businessPhones") or []),
        "homePhones": list(data.get("homePhones") or []),
        "mobilePhone": data.get("mobilePhone"),
        "businessAddress": dict(data.get("businessAddress") or {}),
        "homeAddress": dict(data.get("homeAddress") or {}),
        "otherAddress": dict(data.get("otherAddress") or {}),
    }


def task_json(item: PimItem) -> dict[str, Any]:
    data = item.data
    rendered = {
        **_common(item),
        "title": data.get("title") or "",
        "body": dict(data.get("body") or {"content": "", "contentType": "text"}),
        "importance": data.get("importance") or "normal",
        "isReminderOn": bool(data.get("isReminderOn", False)),
        "status": data.get("status") or "notStarted",
        "bodyLastModifiedDateTime": iso(item.modified),
    }
    for name in ("dueDateTime", "startDateTime", "completedDateTime"):
        if data.get(name) is not None:
            rendered[name] = dict(data[name])
    return rendered


# --- series ------------------------------------------------------------------------------------------------


def day_shift(start: datetime.datetime, zone_name: str, day: datetime.date) -> datetime.timedelta:
    """How far the occurrence on ``day`` is from the series' first start (same wall-clock time in the zone)."""
    local = start.astimezone(zone(zone_name))
    moved = datetime.datetime.combine(day, local.time().replace(tzinfo=None), tzinfo=zone(zone_name))
    return moved.astimezone(datetime.UTC) - start


def occurrence_days(recurrence: Mapping[str, Any], until: datetime.date) -> list[datetime.date]:
    """The days of a series up to ``until``: daily, weekly, absoluteMonthly and absoluteYearly patterns."""
    pattern, span = recurrence["pattern"], recurrence["range"]
    first = datetime.date.fromisoformat(span["startDate"])
    last = datetime.date.fromisoformat(span["endDate"]) if span["type"] == "endDate" else until
    count = int(span.get("numberOfOccurrences") or 0) if span["type"] == "numbered" else MAX_OCCURRENCES
    interval = int(pattern.get("interval") or 1)
    weekdays = {DAYS.index(d) for d in pattern.get("daysOfWeek") or []}
    found: list[datetime.date] = []
    day = first
    while day <= min(last, until) and len(found) < min(count, MAX_OCCURRENCES):
        if _matches(pattern, interval, weekdays, first, day):
            found.append(day)
        day += datetime.timedelta(days=1)
    return found


def _matches(
    pattern: Mapping[str, Any], interval: int, weekdays: set[int], first: datetime.date, day: datetime.date
) -> bool:
    kind = pattern["type"]
    if kind == "daily":
        return (day - first).days % interval == 0
    if kind == "weekly":
        week = ((day - first).days + first.weekday()) // 7
        return day.weekday() in weekdays and week % interval == 0
    months = (day.year - first.year) * 12 + day.month - first.month
    if kind == "absoluteMonthly":
        return day.day == int(pattern.get("dayOfMonth") or first.day) and months % interval == 0
    if kind == "absoluteYearly":
        same = day.day == int(pattern.get("dayOfMonth") or first.day) and day.month == int(
            pattern.get("month") or first.month
        )
        return same and (day.year - first.year) % interval == 0
    return False  # relative patterns are stored and returned but not expanded here
