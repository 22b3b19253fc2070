"""CRM records as the canonical field dicts of ACT sync, and canonical changes back onto records — pure.

A canonical dict is the language between the two sides: the CRM side (here) and the Exchange side
(``sync/mail/ews/act_items.py``) each produce one per record, and the two are equal when the record and the
item are in sync, so :func:`sync.act.conflict.resolve` can compare them field by field with ``==``. That is
why every value is normalised the same way on both sides: instants are UTC-aware and whole seconds, text is
stripped with "" read as None, addresses are lower-case, sorted and unique, and a time zone of "UTC" is None.

- Appointment: subject, body, location, start, end, all_day, time_zone (Windows id), free_busy (EWS
  LegacyFreeBusyStatus), required, optional (attendee addresses), recurrence, reminder.
- Contact: first_name, last_name, email1..3, job_title, company, business_phone, mobile_phone and one
  mailing address (street, city, postal_code, country; R-ACT-16).
- Task: subject, body, due, start, status (EWS TaskStatus), percent_complete, complete_date.

Task dates are UTC dates: the CRM keeps instants and the user's own time zone is not known here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sync.act.conflict import Direction
from sync.model.act import (
    Appointment,
    AppointmentStatus,
    Recurrence,
    RecurrenceKind,
    Task,
    TaskState,
    TaskStatus,
)
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef, normalize_address
from sync.model.options import EntityType, ParticipationType
from sync.model.records import Contact

Resolve = Callable[[str], EntityRef | None]
"""An address -> the CRM record it resolves to (party resolution), or None."""

REMINDER_AGE = timedelta(days=7)  # appointments created longer ago get no reminder (R-ACT-6)
NO_REMINDER = frozenset({AppointmentStatus.COMPLETED, AppointmentStatus.CANCELED, AppointmentStatus.FREE})

FREE_BUSY: dict[AppointmentStatus, str] = {  # R-ACT-6
    AppointmentStatus.FREE: "Free",
    AppointmentStatus.TENTATIVE: "Tentative",
    AppointmentStatus.COMPLETED: "Free",
    AppointmentStatus.CANCELED: "Free",
    AppointmentStatus.BUSY: "Busy",
    AppointmentStatus.OUT_OF_OFFICE: "OOF",
}
STATUS_OF_FREE_BUSY: dict[str, AppointmentStatus] = {  # R-ACT-10; "Free" on a closed appointment keeps it closed
    "Free": AppointmentStatus.FREE,
    "WorkingElsewhere": AppointmentStatus.FREE,
    "Tentative": AppointmentStatus.TENTATIVE,
    "Busy": AppointmentStatus.BUSY,
    "OOF": AppointmentStatus.OUT_OF_OFFICE,
}
ATTENDEES = {"required": ParticipationType.REQUIRED_ATTENDEE, "optional": ParticipationType.OPTIONAL_ATTENDEE}
APPOINTMENT_COLUMNS = {
    "subject": "subject",
    "body": "description",
    "location": "location",
    "all_day": "is_all_day_event",
    "time_zone": "time_zone",
    "recurrence": "recurrence",
}

CONTACT_COLUMNS = {  # canonical name -> Contact column
    "first_name": "first_name",
    "last_name": "last_name",
    "email1": "email_address1",
    "email2": "email_address2",
    "email3": "email_address3",
    "job_title": "job_title",
    "company": "company_name",
    "business_phone": "telephone1",
    "mobile_phone": "mobile_phone",
    "street": "address1_line1",
    "city": "address1_city",
    "postal_code": "address1_postal_code",
    "country": "address1_country",
}
CONTACT_EMAILS = frozenset({"email1", "email2", "email3"})

TASK_STATUS: dict[TaskStatus, str] = {  # R-ACT-17: open statuses keep their EWS name, closed ones complete
    TaskStatus.NOT_STARTED: "NotStarted",
    TaskStatus.IN_PROGRESS: "InProgress",
    TaskStatus.WAITING: "WaitingOnOthers",
    TaskStatus.DEFERRED: "Deferred",
    TaskStatus.COMPLETED: "Completed",
    TaskStatus.CANCELED: "Completed",
}
STATUS_OF_TASK: dict[str, TaskStatus] = {  # R-ACT-18; "Completed" is handled apart (it sets actual_end)
    "NotStarted": TaskStatus.NOT_STARTED,
    "InProgress": TaskStatus.IN_PROGRESS,
    "WaitingOnOthers": TaskStatus.WAITING,
    "Deferred": TaskStatus.DEFERRED,
}


def _both(*names: str) -> dict[str, Direction]:
    return dict.fromkeys(names, Direction.BOTH)


DIRECTIONS: dict[EntityType, dict[str, Direction]] = {
    EntityType.APPOINTMENT: {
        **_both("subject", "body", "location", "start", "end", "all_day", "time_zone", "free_busy"),
        **_both("required", "optional", "recurrence"),
        "reminder": Direction.TO_EXCHANGE,  # derived from status and age on the CRM side (R-ACT-6)
    },
    EntityType.CONTACT: _both(*CONTACT_COLUMNS),
    EntityType.TASK: {
        **_both("subject", "body", "due", "start", "status"),
        "percent_complete": Direction.NONE,  # not synced (R-ACT-17): each side derives it from the status
        "complete_date": Direction.NONE,  # Exchange stamps its own CompleteDate; the status carries completion
    },
}
"""The per-field sync direction of each record type (R-ACT-5): both ways unless said otherwise."""


# --- normalisation, shared with the Exchange side ---------------------------------------------------------


def text(value: str | None) -> str | None:
    """Stripped text, None for nothing."""
    return (value or "").strip() or None


def body_text(value: str | None) -> str | None:
    """A plain-text body; Exchange may hand back CRLF line ends for the LF it was given."""
    return text((value or "").replace("\r\n", "\n"))


def email(value: str | None) -> str | None:
    """An address as compared: Outlook may change its case."""
    value = text(value)
    return normalize_address(value) if value else None


def attendee_addresses(values: Iterable[str | None]) -> tuple[str, ...]:
    """Attendee addresses: the order of attendees means nothing, on either side."""
    return tuple(sorted({normalize_address(v) for v in values if v and v.strip()}))


def instant(value: datetime) -> datetime:
    """UTC, whole seconds, a plain ``datetime`` (naive is read as UTC): Exchange keeps no fractions."""
    return datetime(*value.utctimetuple()[:6], tzinfo=UTC)


def day(value: date) -> date:
    """A plain ``date``: exchangelib hands out a subclass of its own, and takes only plain ones."""
    return date(value.year, value.month, value.day)


def zone_id(value: str | None) -> str | None:
    """A Windows time zone id; "UTC" is None, the zone an item gets when it is written without one."""
    value = text(value)
    return None if value == "UTC" else value


def recurrence(value: Recurrence | None) -> Recurrence | None:
    """Only the parts the kind uses, with the day and month EWS requires filled in from the series start."""
    if value is None:
        return None
    kind = value.kind
    dated = kind in (RecurrenceKind.MONTHLY, RecurrenceKind.YEARLY)
    return Recurrence(
        kind=kind,
        interval=value.interval,
        weekdays=sorted(set(value.weekdays)) if kind is RecurrenceKind.WEEKLY else [],
        day_of_month=(value.day_of_month or value.start.day) if dated else None,
        month=(value.month or value.start.month) if kind is RecurrenceKind.YEARLY else None,
        start=day(value.start),
        end=day(value.end) if value.end else None,
        occurrences=value.occurrences,
    )


# --- appointments ------------------------------------------------------------------------------------------


def appointment_fields(
    a: Appointment, addresses: Callable[[EntityRef], str | None], now: datetime
) -> dict[str, object]:
    """``addresses`` gives a resolved party's current address; unresolved parties keep the one used."""

    def attendees(role: ParticipationType) -> tuple[str, ...]:
        return attendee_addresses(
            (addresses(p.party) if p.party else None) or p.address_used for p in a.parties if p.participation is role
        )

    return {
        "subject": a.subject.strip(),
        "body": body_text(a.description),
        "location": text(a.location),
        "start": instant(a.scheduled_start),
        "end": instant(a.scheduled_end),
        "all_day": a.is_all_day_event,
        "time_zone": zone_id(a.time_zone),
        "free_busy": FREE_BUSY[a.status],
        "required": attendees(ParticipationType.REQUIRED_ATTENDEE),
        "optional": attendees(ParticipationType.OPTIONAL_ATTENDEE),
        "recurrence": recurrence(a.recurrence),
        "reminder": a.status not in NO_REMINDER and now - a.created_on <= REMINDER_AGE,
    }


def apply_appointment(a: Appointment, changes: Mapping[str, object], resolve: Resolve) -> None:
    """Writes canonical changes onto the record; ``reminder`` is derived here, so it is never written."""
    for name, column in APPOINTMENT_COLUMNS.items():
        if name in changes:
            setattr(a, column, changes[name])
    if "start" in changes or "end" in changes:
        start = cast(datetime, changes.get("start", a.scheduled_start))
        end = cast(datetime, changes.get("end", a.scheduled_end))
        if start > a.scheduled_end:  # the model checks end >= start on every assignment
            a.scheduled_end, a.scheduled_start = end, start
        else:
            a.scheduled_start, a.scheduled_end = start, end
    free_busy = changes.get("free_busy")
    closed = a.status in (AppointmentStatus.COMPLETED, AppointmentStatus.CANCELED)
    if isinstance(free_busy, str) and free_busy in STATUS_OF_FREE_BUSY and not (free_busy == "Free" and closed):
        a.status = STATUS_OF_FREE_BUSY[free_busy]
    for name, role in ATTENDEES.items():
        if name in changes:
            given = cast(Iterable[str], changes[name])
            kept = [p for p in a.parties if p.participation is not role]
            a.parties = kept + _attendee_parties(role, given, a.parties, resolve)


def new_appointment(
    fields: Mapping[str, object], owner_user_id: str, organizer: EntityRef | ActivityParty, resolve: Resolve
) -> Appointment:
    """The CRM record of an appointment tracked from Exchange, organized by ``organizer`` (a record, or the
    organizer party with its address)."""
    if isinstance(organizer, EntityRef):
        organizer = ActivityParty(participation=ParticipationType.ORGANIZER, party=organizer)
    a = Appointment.model_validate(
        {
            "scheduled_start": fields["start"],
            "scheduled_end": fields["end"],
            "owner_user_id": owner_user_id,
            "parties": [organizer],
        }
    )
    apply_appointment(a, fields, resolve)
    return a


def _attendee_parties(
    role: ParticipationType, given: Iterable[str], current: list[ActivityParty], resolve: Resolve
) -> list[ActivityParty]:
    """Attendees that stay keep their party as it was (the record a user picked); new ones are resolved."""
    known = {normalize_address(p.address_used): p for p in current if p.participation is role and p.address_used}
    return [
        known.get(address) or ActivityParty(participation=role, party=resolve(address), address_used=address)
        for address in given
    ]


# --- contacts ----------------------------------------------------------------------------------------------


def contact_fields(c: Contact) -> dict[str, object]:
    return {
        name: (email if name in CONTACT_EMAILS else text)(getattr(c, column))
        for name, column in CONTACT_COLUMNS.items()
    }


def apply_contact(c: Contact, changes: Mapping[str, object]) -> None:
    """Writes canonical changes onto the record; a contact without a last name gets "" (the column is required)."""
    for name, column in CONTACT_COLUMNS.items():
        if name in changes:
            value = changes[name]
            setattr(c, column, "" if value is None and name == "last_name" else value)


def new_contact(fields: Mapping[str, object], owner_user_id: str) -> Contact:
    """The CRM record of an Exchange contact (Outlook contacts are tracked by App for Outlook only, R-ACT-2)."""
    c = Contact(last_name="", owner_user_id=owner_user_id)
    apply_contact(c, fields)
    return c


# --- tasks -------------------------------------------------------------------------------------------------


def task_fields(t: Task, now: datetime) -> dict[str, object]:
    """R-ACT-17: the CRM has no percent complete, so it follows the status; an actual end in the past
    completes the task."""
    done = t.state is not TaskState.OPEN or (t.actual_end is not None and t.actual_end <= now)
    return {
        "subject": t.subject.strip(),
        "body": body_text(t.description),
        "due": _date_of(t.scheduled_end),
        "start": _date_of(t.actual_start),
        "status": "Completed" if done else TASK_STATUS[t.status],
        "percent_complete": 100 if done else 0,
        "complete_date": _date_of(t.actual_end) if done else None,
    }


def apply_task(t: Task, changes: Mapping[str, object], now: datetime) -> None:
    """R-ACT-18. A task completed in Exchange is completed at its complete date, else now; one completed or
    canceled in the CRM already stays as it is. ``percent_complete`` has no CRM counterpart."""
    if "subject" in changes:
        t.subject = cast(str, changes["subject"])
    if "body" in changes:
        t.description = cast(str | None, changes["body"])
    if "due" in changes:
        t.scheduled_end = _on(cast(date | None, changes["due"]), t.scheduled_end)
    if "start" in changes:
        t.actual_start = _on(cast(date | None, changes["start"]), t.actual_start)
    if "complete_date" in changes:
        t.actual_end = _on(cast(date | None, changes["complete_date"]), t.actual_end)
    status = changes.get("status")
    if status == "Completed":
        if t.state is TaskState.OPEN:
            t.status = TaskStatus.COMPLETED
        t.actual_end = t.actual_end or now
    elif isinstance(status, str) and status in STATUS_OF_TASK:
        t.status = STATUS_OF_TASK[status]


def new_task(fields: Mapping[str, object], owner_user_id: str, now: datetime) -> Task:
    """The CRM record of a task tracked from Exchange; it starts now (R-ACT-18), whatever its start date."""
    t = Task(owner_user_id=owner_user_id)
    apply_task(t, fields, now)
    t.actual_start = now
    return t


def _date_of(value: datetime | None) -> date | None:
    return instant(value).date() if value else None


def _on(value: date | None, keep: datetime | None) -> datetime | None:
    """The UTC instant of a date, at the time of day the column had (midnight if it had none)."""
    if value is None:
        return None
    return datetime.combine(value, instant(keep).time() if keep else time(), tzinfo=UTC)
