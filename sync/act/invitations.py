"""When a CRM write reaches a meeting's attendees: invitations, updates and cancellations (R-ACT-7, 8, 9) — pure.

The cycle writes to the syncing user's own Exchange mailbox; Exchange sends the meeting messages when the
write asks it to. Whether it asks is decided here, from the appointment as the syncing user sees it
(:class:`Meeting`) and the canonical fields (``sync/act/fields.py``) the write changes. A meeting is in the
past once it started; a series, once its last occurrence did (:func:`last_start`).

- **Create** (R-ACT-7): invitations go out unless the meeting starts in the past or has no attendees. They
  also need the syncing user to organize it (an attendee's copy must not invite anyone from the attendee's
  mailbox) and an appointment still open (a completed or canceled one is written as Free, R-ACT-6, quietly).
- **Update** (R-ACT-7): updates go out unless the meeting is past, the syncing user does not organize it, it
  has no attendees, or no sensitive property changed (:data:`SENSITIVE`). A cancel in the CRM is not a
  meeting update (R-ACT-9): the status is written (Free, R-ACT-6) without telling anyone.
- **Past meetings** (R-ACT-9): a meeting with attendees that has started keeps its sensitive properties in
  Exchange unless ``update_past_meetings`` (Dynamics' SSSUpdatePastMeetingsInNonDraftMode) is on; then they
  are written, still without updates (R-ACT-7: never for the past). Its status is always written, so a
  meeting completed afterwards shows Free.
- **Delete** (R-ACT-8): an appointment deleted in the CRM (physically) leaves Exchange only when it is
  linked, the syncing user organizes it and it is to come; cancellations go to its attendees. A logical
  delete (the user's filter stops selecting it: lost access, a filter or organizer change) never deletes a
  meeting, whatever the user's role: the item stays in Exchange, unlinked, and nobody is told.
- **Cancel** (R-ACT-9): with ``propagate_cancellations`` (SSSPropagateAppointmentCancellationsToExchange) on,
  an appointment canceled in the CRM is deleted from its organizer's mailbox with cancellations, under the
  same conditions as a delete; otherwise it is an update like any other.

Dynamics' Organizer and PriorityCode are sensitive too, but neither is a synced field here: the organizer of
an item is the mailbox it is in, and the priority is not synced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from sync.model.act import Appointment, AppointmentStatus, RecurrenceKind
from sync.model.options import EntityType, ParticipationType

SENSITIVE = frozenset(  # R-ACT-7's sensitive properties, as canonical fields
    {
        "subject",  # Subject
        "body",  # Body
        "location",  # Location
        "all_day",  # IsAllDayEvent
        "start",  # ScheduledStart
        "end",  # ScheduledEnd
        "required",  # RequiredAttendees
        "optional",  # OptionalAttendees
        "free_busy",  # AppointmentStatus (R-ACT-6 maps it to free/busy)
        "recurrence",  # RecurrencePattern
    }
)
HELD_FOR_PAST_MEETINGS = SENSITIVE - {"free_busy"}  # a past meeting still shows Free once closed (R-ACT-6)
ATTENDEE_ROLES = (ParticipationType.REQUIRED_ATTENDEE, ParticipationType.OPTIONAL_ATTENDEE)
PERIOD = {  # the longest time between two occurrences of a series, per interval
    RecurrenceKind.DAILY: timedelta(days=1),
    RecurrenceKind.WEEKLY: timedelta(weeks=1),
    RecurrenceKind.MONTHLY: timedelta(days=31),
    RecurrenceKind.YEARLY: timedelta(days=366),
}
NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # a series without an end; Table storage keeps dates up to 9999


@dataclass(frozen=True)
class Meeting:
    """What the rules need of an appointment, as one syncing user sees it."""

    organized: bool  # the syncing user is its organizer
    last_start: datetime  # when it starts; a series: when its last occurrence starts at the latest (last_start())
    has_attendees: bool
    status: AppointmentStatus = AppointmentStatus.BUSY

    def to_come(self, now: datetime) -> bool:
        """R-ACT-7/8/9's "in the future": for a series, while an occurrence is still to come."""
        return self.last_start > now

    @property
    def canceled(self) -> bool:
        return self.status is AppointmentStatus.CANCELED

    @property
    def closed(self) -> bool:
        return self.status in (AppointmentStatus.COMPLETED, AppointmentStatus.CANCELED)


def meeting_of(appointment: Appointment, user_id: str) -> Meeting:
    organizer = appointment.organizer
    party = organizer.party if organizer is not None else None
    return Meeting(
        organized=party is not None and party.type is EntityType.SYSTEM_USER and party.id == user_id,
        last_start=last_start(appointment),
        has_attendees=any(p.participation in ATTENDEE_ROLES for p in appointment.parties),
        status=appointment.status,
    )


def last_start(appointment: Appointment) -> datetime:
    """When the appointment starts, or a series' last occurrence at the latest: on its end date, or after its
    count of occurrences at most a period apart each (an upper bound: a series ends no later). A series without
    an end never ends."""
    start, series = appointment.scheduled_start, appointment.recurrence
    if series is None:
        return start
    if series.end is not None:
        return max(start, datetime.combine(series.end, time.max, tzinfo=UTC))
    if series.occurrences is None:
        return NEVER
    periods = series.occurrences
    if series.kind is RecurrenceKind.WEEKLY:  # several occurrences a week
        periods = -(-series.occurrences // max(1, len(set(series.weekdays))))
    return start + PERIOD[series.kind] * series.interval * periods


def invite_on_create(meeting: Meeting, now: datetime) -> bool:
    """R-ACT-7: a new meeting the user organizes, to come, with attendees, still open."""
    return meeting.organized and meeting.has_attendees and meeting.to_come(now) and not meeting.closed


def invite_on_update(meeting: Meeting, changed: Iterable[str], now: datetime) -> bool:
    """R-ACT-7 (and R-ACT-9: a cancel is not sent as an update)."""
    sensitive = any(name in SENSITIVE for name in changed)
    return sensitive and meeting.organized and meeting.has_attendees and meeting.to_come(now) and not meeting.canceled


def is_past_meeting(meeting: Meeting, now: datetime) -> bool:
    """R-ACT-9's past meeting: one with attendees that has started (an appointment alone is no meeting)."""
    return meeting.has_attendees and not meeting.to_come(now)


def writable_changes(
    meeting: Meeting, changes: Mapping[str, object], now: datetime, *, update_past_meetings: bool
) -> dict[str, object]:
    """R-ACT-9: the changes a write may carry; a past meeting keeps its sensitive properties unless the setting."""
    if update_past_meetings or not is_past_meeting(meeting, now):
        return dict(changes)
    return {name: value for name, value in changes.items() if name not in HELD_FOR_PAST_MEETINGS}


class Removal(StrEnum):
    """What leaving the user's Exchange means for one appointment."""

    CANCEL = "cancel"  # delete it from the organizer's mailbox and send cancellations
    DELETE = "delete"  # delete it, nobody to tell
    UNLINK = "unlink"  # the item stays in Exchange, no longer linked


def removal(meeting: Meeting | None, now: datetime, *, physical: bool) -> Removal:
    """R-ACT-8: an appointment deleted in the CRM by its organizer, to come, goes (with cancellations when it has
    attendees); anything else only unlinks. ``meeting`` is None when nothing is known of it (no snapshot)."""
    if meeting is None or not physical or not meeting.organized or not meeting.to_come(now):
        return Removal.UNLINK
    return Removal.CANCEL if meeting.has_attendees else Removal.DELETE


def cancel_propagates(meeting: Meeting, now: datetime, *, propagate_cancellations: bool) -> Removal | None:
    """R-ACT-9: a canceled appointment leaves its organizer's mailbox like a delete when the setting is on; None
    when it is written as an update (Free, R-ACT-6) instead."""
    if not (propagate_cancellations and meeting.canceled):
        return None
    found = removal(meeting, now, physical=True)
    return None if found is Removal.UNLINK else found
