"""Exchange calendar items, contacts and tasks as the canonical field dicts of ACT sync, and back.

The CRM side of the same dicts is ``sync/act/fields.py``, which also holds the normalisation both sides
share. Items are exchangelib objects fetched with all their fields; :func:`new_item` builds one to
``save()`` and :func:`set_fields` changes one and names the fields to pass to ``save(update_fields=...)``.

Where EWS or exchangelib decide:

- start and end are written in the Windows zone of ``time_zone`` so Exchange keeps the organizer's zone
  (StartTimeZone/EndTimeZone); without one they are written in UTC, which reads back as ``time_zone`` None;
- exchangelib hands out an all-day event as its first and last day (dates, in the item's zone) and turns
  dates back into midnights of ``_start_timezone``: the canonical instants are those midnights, the end
  exclusive;
- EWS yearly patterns have no interval, so a series every few years cannot be written; patterns the CRM
  cannot hold (a weekday of the month, task regeneration) cannot be read: both raise ValueError rather
  than sync a different series;
- a task's CompleteDate is stamped by Exchange when the task completes (exchangelib never sends it), so
  ``complete_date`` is read only;
- contacts sync their Business address as the mailing address (R-ACT-16); Exchange requires a display
  name, which follows the first and last name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast

from exchangelib import Attendee, Body, CalendarItem, Contact, EWSDate, EWSDateTime, EWSTimeZone, HTMLBody, Mailbox
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.items import Item, Task
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    WeeklyPattern,
)
from exchangelib.recurrence import Recurrence as EwsRecurrence

from sync.act import fields as canonical
from sync.model.act import Recurrence, RecurrenceKind
from sync.model.options import EntityType
from sync.outgoing.html_text import html_to_text

UTC_ZONE = EWSTimeZone("UTC")
ITEM_CLASSES: dict[EntityType, Any] = {
    EntityType.APPOINTMENT: CalendarItem,
    EntityType.CONTACT: Contact,
    EntityType.TASK: Task,
}

CALENDAR_PLAIN = {  # canonical name -> exchangelib field, values as they are
    "subject": "subject",
    "location": "location",
    "free_busy": "legacy_free_busy_status",
    "reminder": "reminder_is_set",
}
ATTENDEE_FIELDS = {"required": "required_attendees", "optional": "optional_attendees"}
TIMES = ("start", "end", "all_day", "time_zone")  # written together: each one changes how the others read

CONTACT_PLAIN = {
    "first_name": "given_name",
    "last_name": "surname",
    "job_title": "job_title",
    "company": "company_name",
}
EMAIL_LABELS = {"email1": "EmailAddress1", "email2": "EmailAddress2", "email3": "EmailAddress3"}
PHONE_LABELS = {"business_phone": "BusinessPhone", "mobile_phone": "MobilePhone"}
ADDRESS_PARTS = {"street": "street", "city": "city", "postal_code": "zipcode", "country": "country"}
MAILING = "Business"  # the PhysicalAddress the CRM's address 1 syncs with
ALL_ADDRESS_PARTS = ("street", "city", "state", "zipcode", "country")


def calendar_fields(item: CalendarItem) -> dict[str, object]:
    return {
        "subject": (item.subject or "").strip(),
        "body": _body_text(item.body),
        "location": canonical.text(item.location),
        **_times(item),
        "free_busy": str(item.legacy_free_busy_status or "Busy"),
        **{
            name: canonical.attendee_addresses(a.mailbox.email_address for a in getattr(item, field) or ())
            for name, field in ATTENDEE_FIELDS.items()
        },
        "recurrence": _recurrence(item.recurrence),
        "reminder": bool(item.reminder_is_set),
    }


def contact_fields(item: Contact) -> dict[str, object]:
    emails = {e.label: e.email for e in item.email_addresses or ()}
    phones = {p.label: p.phone_number for p in item.phone_numbers or ()}
    mailing = _mailing(item)
    return {
        **{name: canonical.text(getattr(item, field)) for name, field in CONTACT_PLAIN.items()},
        **{name: canonical.email(emails.get(label)) for name, label in EMAIL_LABELS.items()},
        **{name: canonical.text(phones.get(label)) for name, label in PHONE_LABELS.items()},
        **{name: canonical.text(getattr(mailing, part, None)) for name, part in ADDRESS_PARTS.items()},
    }


def task_fields(item: Task) -> dict[str, object]:
    return {
        "subject": (item.subject or "").strip(),
        "body": _body_text(item.body),
        "due": canonical.day(item.due_date) if item.due_date else None,
        "start": canonical.day(item.start_date) if item.start_date else None,
        "status": str(item.status or Task.NOT_STARTED),
        "percent_complete": int(item.percent_complete or 0),
        "complete_date": canonical.instant(item.complete_date).date() if item.complete_date else None,
    }


def new_item(object_type: EntityType, fields: Mapping[str, object], account: Any, folder: Any) -> Item:
    """An unsaved item of ``object_type`` in ``folder`` holding the canonical ``fields``."""
    item = ITEM_CLASSES[object_type](account=account, folder=folder)
    set_fields(item, fields)
    return item


def set_fields(item: Item, changes: Mapping[str, object]) -> list[str]:
    """Writes canonical changes onto ``item``; returns the exchangelib fields to save."""
    if isinstance(item, CalendarItem):
        return _set_calendar(item, changes)
    if isinstance(item, Contact):
        return _set_contact(item, changes)
    if isinstance(item, Task):
        return _set_task(item, changes)
    raise TypeError(f"not an ACT item: {type(item).__name__}")


# --- calendar items ----------------------------------------------------------------------------------------


def _set_calendar(item: CalendarItem, changes: Mapping[str, object]) -> list[str]:
    updated = _set_plain(item, changes, CALENDAR_PLAIN)
    if "body" in changes:
        item.body = _ews_body(changes["body"])
        updated.append("body")
    for name, field in ATTENDEE_FIELDS.items():
        if name in changes:
            given = cast(Iterable[str], changes[name])
            setattr(item, field, [Attendee(mailbox=Mailbox(email_address=address)) for address in given])
            updated.append(field)
    if "recurrence" in changes:
        item.recurrence = _ews_recurrence(cast(Recurrence | None, changes["recurrence"]))
        updated.append("recurrence")
    if any(name in changes for name in TIMES):
        times = {name: changes[name] for name in TIMES if name in changes}
        if len(times) < len(TIMES):
            times = {**_times(item), **times}
        _set_times(item, **times)
        updated += ["start", "end", "is_all_day"]  # exchangelib adds the time zones of start and end
    return updated


def _times(item: CalendarItem) -> dict[str, object]:
    zone = item._start_timezone or UTC_ZONE
    start, end = item.start, item.end
    if item.is_all_day:  # exchangelib gives the first and the last day
        start = datetime.combine(start, time(), tzinfo=zone)
        end = datetime.combine(end + timedelta(days=1), time(), tzinfo=zone)
    return {
        "start": canonical.instant(start),
        "end": canonical.instant(end),
        "all_day": bool(item.is_all_day),
        "time_zone": canonical.zone_id(zone.ms_id),
    }


def _set_times(item: CalendarItem, *, start: Any, end: Any, all_day: Any, time_zone: Any) -> None:
    zone = EWSTimeZone.from_ms_id(time_zone) if time_zone else UTC_ZONE
    item._start_timezone = item._end_timezone = zone
    item.is_all_day = bool(all_day)
    if all_day:
        first = start.astimezone(zone).date()
        item.start = _ews_date(first)
        item.end = _ews_date(max(first, (end.astimezone(zone) - timedelta(days=1)).date()))
    else:
        item.start = EWSDateTime.from_datetime(start).astimezone(zone)
        item.end = EWSDateTime.from_datetime(end).astimezone(zone)


def _recurrence(value: EwsRecurrence | None) -> Recurrence | None:
    if value is None:
        return None
    pattern, boundary = value.pattern, value.boundary
    if isinstance(pattern, DailyPattern):
        kind, parts = RecurrenceKind.DAILY, {"interval": pattern.interval}
    elif isinstance(pattern, WeeklyPattern):
        kind, parts = RecurrenceKind.WEEKLY, {"interval": pattern.interval, "weekdays": list(pattern.weekdays)}
    elif isinstance(pattern, AbsoluteMonthlyPattern):
        kind, parts = RecurrenceKind.MONTHLY, {"interval": pattern.interval, "day_of_month": pattern.day_of_month}
    elif isinstance(pattern, AbsoluteYearlyPattern):
        kind, parts = RecurrenceKind.YEARLY, {"day_of_month": pattern.day_of_month, "month": pattern.month}
    else:
        raise ValueError(f"a {type(pattern).__name__} series has no CRM counterpart")
    end = boundary.end if isinstance(boundary, EndDatePattern) else None
    occurrences = boundary.number if isinstance(boundary, NumberedPattern) else None
    return canonical.recurrence(
        Recurrence.model_validate(
            {"kind": kind, **parts, "start": boundary.start, "end": end, "occurrences": occurrences}
        )
    )


def _ews_recurrence(value: Recurrence | None) -> EwsRecurrence | None:
    if value is None:
        return None
    match value.kind:
        case RecurrenceKind.DAILY:
            pattern = DailyPattern(interval=value.interval)
        case RecurrenceKind.WEEKLY:
            pattern = WeeklyPattern(interval=value.interval, weekdays=list(value.weekdays))
        case RecurrenceKind.MONTHLY:
            pattern = AbsoluteMonthlyPattern(interval=value.interval, day_of_month=value.day_of_month)
        case RecurrenceKind.YEARLY:
            if value.interval != 1:
                raise ValueError("an EWS yearly series recurs every year")
            pattern = AbsoluteYearlyPattern(day_of_month=value.day_of_month, month=value.month)
    if value.end is not None:
        boundary = EndDatePattern(start=value.start, end=value.end)
    elif value.occurrences is not None:
        boundary = NumberedPattern(start=value.start, number=value.occurrences)
    else:
        boundary = NoEndPattern(start=value.start)
    return EwsRecurrence(pattern=pattern, boundary=boundary)


# --- contacts ----------------------------------------------------------------------------------------------


def _set_contact(item: Contact, changes: Mapping[str, object]) -> list[str]:
    updated = _set_plain(item, changes, CONTACT_PLAIN)
    if "first_name" in changes or "last_name" in changes:
        item.display_name = " ".join(part for part in (item.given_name, item.surname) if part)
        updated.append("display_name")
    emails = {label: changes[name] for name, label in EMAIL_LABELS.items() if name in changes}
    if emails:
        item.email_addresses = _replaced(item.email_addresses, emails, lambda k, v: EmailAddress(label=k, email=v))
        updated.append("email_addresses")
    phones = {label: changes[name] for name, label in PHONE_LABELS.items() if name in changes}
    if phones:
        item.phone_numbers = _replaced(item.phone_numbers, phones, lambda k, v: PhoneNumber(label=k, phone_number=v))
        updated.append("phone_numbers")
    parts = {part: changes[name] for name, part in ADDRESS_PARTS.items() if name in changes}
    if parts:
        mailing = _mailing(item) or PhysicalAddress(label=MAILING)
        for part, value in parts.items():
            setattr(mailing, part, value)
        others = [a for a in item.physical_addresses or () if a.label != MAILING]
        kept = any(getattr(mailing, part) for part in ALL_ADDRESS_PARTS)
        item.physical_addresses = [*others, mailing] if kept else others
        updated.append("physical_addresses")
    return updated


def _mailing(item: Contact) -> PhysicalAddress | None:
    return next((a for a in item.physical_addresses or () if a.label == MAILING), None)


def _replaced(entries: Any, changed: Mapping[str, object], make: Callable[[str, object], Any]) -> list[Any]:
    """The entries of an indexed field with the ``changed`` labels replaced, or dropped when None."""
    kept = [e for e in entries or () if e.label not in changed]
    return kept + [make(label, value) for label, value in changed.items() if value is not None]


# --- tasks -------------------------------------------------------------------------------------------------


def _set_task(item: Task, changes: Mapping[str, object]) -> list[str]:
    updated = _set_plain(item, changes, {"subject": "subject", "status": "status"})
    if "body" in changes:
        item.body = _ews_body(changes["body"])
        updated.append("body")
    for name, field in (("due", "due_date"), ("start", "start_date")):
        if name in changes:
            value = cast(date | None, changes[name])
            setattr(item, field, _ews_date(value) if value else None)
            updated.append(field)
    if "percent_complete" in changes:
        item.percent_complete = Decimal(cast(int, changes["percent_complete"]))
        updated.append("percent_complete")
    return updated


# --- shared ------------------------------------------------------------------------------------------------


def _set_plain(item: Item, changes: Mapping[str, object], fields: Mapping[str, str]) -> list[str]:
    """Copies changes whose values EWS takes as they are; an empty text is no value."""
    updated = []
    for name, field in fields.items():
        if name in changes:
            value = changes[name]
            setattr(item, field, None if value == "" else value)
            updated.append(field)
    return updated


def _body_text(body: Body | None) -> str | None:
    """The canonical body is plain text; an HTML body (written in Outlook) is read as its text."""
    return canonical.body_text(html_to_text(body) if isinstance(body, HTMLBody) else body)


def _ews_date(value: date) -> EWSDate:
    """exchangelib takes plain dates only (a zone's ``astimezone`` hands out its own subclasses)."""
    return EWSDate.from_date(canonical.day(value))


def _ews_body(value: object) -> Body | None:
    return Body(value) if value else None
