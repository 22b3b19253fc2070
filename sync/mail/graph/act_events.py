"""Graph calendar events as the canonical appointment fields of ACT sync, and back — pure.

The CRM side of the same dicts is ``sync/act/fields.py``. Where Graph decides differently from EWS
(``sync/mail/ews/act_items.py``):

- start and end are written as local times in the Windows zone of ``time_zone`` (Graph keeps it as
  ``originalStartTimeZone``) and read in UTC, since we send no ``Prefer: outlook.timezone``; an all-day
  event is written as midnights of its zone, which read back as the same canonical instants as EWS's;
- ``showAs`` carries the free/busy status; its values are mapped to EWS's names, which the canonical
  fields use;
- required and optional attendees are one ``attendees`` list with a ``type``; resources are not synced;
- a yearly series may have an interval in Graph (EWS cannot write one); "relative" patterns (the second
  Tuesday) have no CRM counterpart and are refused when read, like EWS;
- a meeting written without invitations keeps its attendees in an extended property of our own instead of
  ``attendees``, since Graph invites whoever is in ``attendees`` (``docs/act.md``).
"""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, cast

from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP

from sync.act import fields as canonical
from sync.model.act import Recurrence, RecurrenceKind
from sync.outgoing.html_text import html_to_text

SHOW_AS = {
    "Free": "free",
    "Tentative": "tentative",
    "Busy": "busy",
    "OOF": "oof",
    "WorkingElsewhere": "workingElsewhere",
}
FREE_BUSY = {graph: ews for ews, graph in SHOW_AS.items()}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # ISO weekday - 1
PATTERN_OF_KIND = {
    RecurrenceKind.DAILY: "daily",
    RecurrenceKind.WEEKLY: "weekly",
    RecurrenceKind.MONTHLY: "absoluteMonthly",
    RecurrenceKind.YEARLY: "absoluteYearly",
}
KIND_OF_PATTERN = {graph: kind for kind, graph in PATTERN_OF_KIND.items()}
TIMES = ("start", "end", "all_day", "time_zone", "recurrence")  # written together: each changes how the others read
ATTENDEES = ("required", "optional")
UTC_NAMES = frozenset({"utc", "tzone://microsoft/utc", "coordinated universal time", "etc/utc", ""})
SILENT_ATTENDEES = "String {5b0f6a1e-3c2d-4e8f-9a7b-61d4c2e8f0a3} Name CrmAttendeesNotInvited"
"""Attendees the CRM holds for a meeting written without invitations: ``{"required": [...], "optional": [...]}``."""


def event_fields(event: Mapping[str, Any]) -> dict[str, object]:
    """The canonical fields of an event read in UTC (a single instance or a series master)."""
    zone_name = canonical.zone_id(_zone_name(event.get("originalStartTimeZone")))
    start, end = _utc(event["start"]), _utc(event["end"])
    body = event.get("body") or {}
    content = str(body.get("content") or "")
    attendees = _attendees(event)
    return {
        "subject": str(event.get("subject") or "").strip(),
        "body": canonical.body_text(html_to_text(content) if body.get("contentType") == "html" else content),
        "location": canonical.text((event.get("location") or {}).get("displayName")),
        "start": canonical.instant(start),
        "end": canonical.instant(end),
        "all_day": bool(event.get("isAllDay")),
        "time_zone": zone_name,
        "free_busy": FREE_BUSY.get(str(event.get("showAs") or "busy"), "Busy"),
        "required": attendees["required"],
        "optional": attendees["optional"],
        "recurrence": _recurrence(event.get("recurrence")),
        "reminder": bool(event.get("isReminderOn")),
    }


def event_body(
    fields: Mapping[str, object], changed: Iterable[str], *, invite: bool
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The Graph properties for the ``changed`` canonical names (``fields`` holds every name they need) and the
    extended properties to write with them."""
    names = set(changed)
    body: dict[str, Any] = {}
    extended: list[dict[str, str]] = []
    if "subject" in names:
        body["subject"] = fields["subject"] or ""
    if "body" in names:
        body["body"] = {"contentType": "text", "content": fields["body"] or ""}
    if "location" in names:
        body["location"] = {"displayName": fields["location"] or ""}
    if "free_busy" in names:
        body["showAs"] = SHOW_AS.get(str(fields["free_busy"]), "busy")
    if "reminder" in names:
        body["isReminderOn"] = bool(fields["reminder"])
    if names & set(TIMES):
        body |= _times(fields)
    if names & set(ATTENDEES):
        required, optional = (cast(Iterable[str], fields[name]) for name in ATTENDEES)
        listed = {"required": sorted(required), "optional": sorted(optional)}
        if invite or not (listed["required"] or listed["optional"]):
            body["attendees"] = [_attendee(a, "required") for a in listed["required"]] + [
                _attendee(a, "optional") for a in listed["optional"]
            ]
            extended.append({"id": SILENT_ATTENDEES, "value": ""})
        else:
            body["attendees"] = []
            extended.append({"id": SILENT_ATTENDEES, "value": json.dumps(listed)})
    return body, extended


def needs_current(changed: Iterable[str]) -> bool:
    """Whether writing ``changed`` needs values it does not carry (times and attendees are written whole)."""
    names = set(changed)
    partial_times = bool(names & set(TIMES)) and not set(TIMES) <= names
    partial_attendees = bool(names & set(ATTENDEES)) and not set(ATTENDEES) <= names
    return partial_times or partial_attendees


# --- times -------------------------------------------------------------------------------------------------


def _times(fields: Mapping[str, object]) -> dict[str, Any]:
    zone_name = cast(str | None, fields["time_zone"]) or "UTC"
    zone = _zone(zone_name)
    start, end = cast(datetime, fields["start"]), cast(datetime, fields["end"])
    all_day = bool(fields["all_day"])
    if all_day:  # midnights of the zone; the end is exclusive and at least a day after the start
        first = start.astimezone(zone).date()
        local_end = end.astimezone(zone)
        last = local_end.date() if local_end.time() == time() else local_end.date() + timedelta(days=1)
        start = datetime.combine(first, time(), tzinfo=zone)
        end = datetime.combine(max(last, first + timedelta(days=1)), time(), tzinfo=zone)
    times: dict[str, Any] = {
        "isAllDay": all_day,
        "start": _local(start, zone, zone_name),
        "end": _local(end, zone, zone_name),
    }
    recurrence = cast(Recurrence | None, fields.get("recurrence"))
    times["recurrence"] = _graph_recurrence(recurrence, zone_name) if recurrence is not None else None
    return times


def _local(moment: datetime, zone: tzinfo, zone_name: str) -> dict[str, str]:
    local = moment.astimezone(zone).replace(tzinfo=None)
    return {"dateTime": local.isoformat(timespec="seconds"), "timeZone": zone_name}


def _utc(value: Mapping[str, Any]) -> datetime:
    """A dateTimeTimeZone Graph returned; in UTC unless a Prefer header asked otherwise."""
    text = str(value["dateTime"])[:26].rstrip("Z")
    return datetime.fromisoformat(text).replace(tzinfo=_zone(str(value.get("timeZone") or "UTC"))).astimezone(UTC)


def _zone_name(value: object) -> str | None:
    text = str(value or "").strip()
    return None if text.lower() in UTC_NAMES else text


def _zone(name: str) -> tzinfo:
    if name.lower() in UTC_NAMES:
        return UTC
    try:
        return zoneinfo.ZoneInfo(MS_TIMEZONE_TO_IANA_MAP.get(name, name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


# --- attendees ---------------------------------------------------------------------------------------------


def _attendee(address: str, kind: str) -> dict[str, Any]:
    return {"type": kind, "emailAddress": {"address": address}}


def _attendees(event: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    listed = event.get("attendees") or []
    found = {
        kind: canonical.attendee_addresses(
            (a.get("emailAddress") or {}).get("address") for a in listed if a.get("type", "required") == kind
        )
        for kind in ATTENDEES
    }
    if any(found.values()):
        return found
    kept = _silent(event)
    return {kind: canonical.attendee_addresses(kept.get(kind, [])) for kind in ATTENDEES}


def _silent(event: Mapping[str, Any]) -> dict[str, list[str]]:
    for prop in event.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == SILENT_ATTENDEES.lower() and prop.get("value"):
            try:
                value = json.loads(prop["value"])
            except ValueError:
                return {}
            return value if isinstance(value, dict) else {}
    return {}


# --- series ------------------------------------------------------------------------------------------------


def _recurrence(value: Mapping[str, Any] | None) -> Recurrence | None:
    if not value:
        return None
    pattern, span = value.get("pattern") or {}, value.get("range") or {}
    kind = KIND_OF_PATTERN.get(str(pattern.get("type")))
    if kind is None:
        raise ValueError(f"a {pattern.get('type')} series has no CRM counterpart")
    parts: dict[str, object] = {"kind": kind, "interval": int(pattern.get("interval") or 1)}
    if kind is RecurrenceKind.WEEKLY:
        parts["weekdays"] = [DAYS.index(d) + 1 for d in pattern.get("daysOfWeek") or [] if d in DAYS]
    if kind in (RecurrenceKind.MONTHLY, RecurrenceKind.YEARLY):
        parts["day_of_month"] = pattern.get("dayOfMonth") or None
    if kind is RecurrenceKind.YEARLY:
        parts["month"] = pattern.get("month") or None
    kind_of_range = span.get("type")
    parts["start"] = date.fromisoformat(str(span["startDate"]))
    parts["end"] = date.fromisoformat(str(span["endDate"])) if kind_of_range == "endDate" else None
    parts["occurrences"] = int(span["numberOfOccurrences"]) if kind_of_range == "numbered" else None
    return canonical.recurrence(Recurrence.model_validate(parts))


def _graph_recurrence(value: Recurrence, zone_name: str) -> dict[str, Any]:
    pattern: dict[str, Any] = {"type": PATTERN_OF_KIND[value.kind], "interval": value.interval}
    if value.kind is RecurrenceKind.WEEKLY:
        pattern["daysOfWeek"] = [DAYS[d - 1] for d in sorted(value.weekdays)]
        pattern["firstDayOfWeek"] = "sunday"
    if value.kind in (RecurrenceKind.MONTHLY, RecurrenceKind.YEARLY):
        pattern["dayOfMonth"] = value.day_of_month or value.start.day
    if value.kind is RecurrenceKind.YEARLY:
        pattern["month"] = value.month or value.start.month
    span: dict[str, Any] = {"startDate": value.start.isoformat(), "recurrenceTimeZone": zone_name}
    if value.end is not None:
        span |= {"type": "endDate", "endDate": value.end.isoformat()}
    elif value.occurrences is not None:
        span |= {"type": "numbered", "numberOfOccurrences": value.occurrences}
    else:
        span["type"] = "noEnd"
    return {"pattern": pattern, "range": span}
