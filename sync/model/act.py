"""Appointments, tasks and the per-user sync filters of ACT synchronization (spec §2.14).

Option values are Dynamics': appointment and task ``statecode``/``statuscode``. Every change to a record
raises ``version_number`` (Dataverse's ``versionnumber``), which is what a mapping remembers as synced.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import IntEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sync.model.base import Entity
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef, Str36, Str100, Str200, Str256
from sync.model.options import EntityType, ParticipationType


class AppointmentState(IntEnum):
    OPEN = 0
    COMPLETED = 1
    CANCELED = 2
    SCHEDULED = 3


class AppointmentStatus(IntEnum):
    FREE = 1  # Open
    TENTATIVE = 2  # Open
    COMPLETED = 3
    CANCELED = 4
    BUSY = 5  # Scheduled
    OUT_OF_OFFICE = 6  # Scheduled


APPOINTMENT_STATE_OF: dict[AppointmentStatus, AppointmentState] = {
    AppointmentStatus.FREE: AppointmentState.OPEN,
    AppointmentStatus.TENTATIVE: AppointmentState.OPEN,
    AppointmentStatus.COMPLETED: AppointmentState.COMPLETED,
    AppointmentStatus.CANCELED: AppointmentState.CANCELED,
    AppointmentStatus.BUSY: AppointmentState.SCHEDULED,
    AppointmentStatus.OUT_OF_OFFICE: AppointmentState.SCHEDULED,
}


class TaskState(IntEnum):
    OPEN = 0
    COMPLETED = 1
    CANCELED = 2


class TaskStatus(IntEnum):
    NOT_STARTED = 2
    IN_PROGRESS = 3
    WAITING = 4
    COMPLETED = 5
    CANCELED = 6
    DEFERRED = 7


TASK_STATE_OF: dict[TaskStatus, TaskState] = {
    TaskStatus.NOT_STARTED: TaskState.OPEN,
    TaskStatus.IN_PROGRESS: TaskState.OPEN,
    TaskStatus.WAITING: TaskState.OPEN,
    TaskStatus.DEFERRED: TaskState.OPEN,
    TaskStatus.COMPLETED: TaskState.COMPLETED,
    TaskStatus.CANCELED: TaskState.CANCELED,
}


class RecurrenceKind(IntEnum):
    DAILY = 0
    WEEKLY = 1
    MONTHLY = 2  # on a day of the month
    YEARLY = 3


class Recurrence(BaseModel):
    """A series pattern as EWS exposes it: every ``interval`` days/weeks/months/years, then an end."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    kind: RecurrenceKind
    """daily, weekly, monthly (on a day of the month) or yearly."""
    interval: int = Field(default=1, ge=1, le=999)
    """Every this many days, weeks, months or years. Default: 1."""
    weekdays: list[int] = Field(default_factory=list)  # ISO weekday numbers 1..7 (weekly)
    """Weekly: the days, as ISO numbers (1 Monday to 7 Sunday)."""
    day_of_month: int | None = Field(default=None, ge=1, le=31)  # monthly, yearly
    """Monthly and yearly: the day of the month."""
    month: int | None = Field(default=None, ge=1, le=12)  # yearly
    """Yearly: the month."""
    start: date
    """The first day of the series."""
    end: date | None = None  # the series ends on this date ...
    """The series ends on this day (or after occurrences, or never)."""
    occurrences: int | None = Field(default=None, ge=1, le=999)  # ... or after this many; neither: no end
    """The series ends after this many occurrences."""

    @model_validator(mode="after")
    def _one_end(self) -> Recurrence:
        if self.end is not None and self.occurrences is not None:
            raise ValueError("a series ends on a date or after a number of occurrences, not both")
        if self.kind is RecurrenceKind.WEEKLY and not self.weekdays:
            raise ValueError("a weekly series needs at least one weekday")
        return self


class Appointment(Entity):
    entity_type: ClassVar[EntityType] = EntityType.APPOINTMENT

    subject: Str200 = ""
    """The subject."""
    description: str | None = Field(default=None, max_length=100_000)
    """The body."""
    location: Str200 | None = None
    """Where it takes place."""
    scheduled_start: datetime
    """When it starts (UTC)."""
    scheduled_end: datetime
    """When it ends (UTC); not before the start."""
    is_all_day_event: bool = False
    """An all-day event. Default: no."""
    time_zone: Str100 | None = None  # Windows time zone id (EWS StartTimeZone), e.g. "W. Europe Standard Time"
    """The Windows time zone it was planned in, e.g. W. Europe Standard Time."""
    parties: list[ActivityParty] = Field(default_factory=list)  # organizer, required and optional attendees
    """The organizer and the required and optional attendees."""
    status: AppointmentStatus = AppointmentStatus.BUSY
    """free, tentative, completed, canceled, busy or out_of_office. Dynamics default: busy."""
    owner_user_id: Str36 | None = None
    """The user who owns it; ACT syncs it to their mailbox."""
    regarding: EntityRef | None = None
    """The record it is about."""
    recurrence: Recurrence | None = None
    """The series pattern of a recurring appointment."""
    created_by: EntityRef | None = None  # R-REC-12
    """Who created it: for one tracked from Exchange, its user (a task, an appointment the user organizes) or
    SYSTEM (id ``system``, an appointment someone else organizes); none for one created through the API."""
    modified_by: EntityRef | None = None
    """Who changed it last, by the same rule, when the change came from Exchange."""

    @property
    def state(self) -> AppointmentState:
        return APPOINTMENT_STATE_OF[self.status]

    @property
    def organizer(self) -> ActivityParty | None:
        return next((p for p in self.parties if p.participation is ParticipationType.ORGANIZER), None)

    @model_validator(mode="after")
    def _ends_after_start(self) -> Appointment:
        if self.scheduled_end < self.scheduled_start:
            raise ValueError("scheduled_end is before scheduled_start")
        return self


class Task(Entity):
    entity_type: ClassVar[EntityType] = EntityType.TASK

    subject: Str200 = ""
    """The subject."""
    description: str | None = Field(default=None, max_length=100_000)
    """The body."""
    scheduled_end: datetime | None = None  # the due date
    """The due date."""
    actual_start: datetime | None = None
    """When work on it started."""
    actual_end: datetime | None = None  # when it was completed
    """When it was completed."""
    percent_complete: int | None = Field(default=None, ge=0, le=100)
    """How much is done, 0 to 100."""
    status: TaskStatus = TaskStatus.NOT_STARTED
    """not_started, in_progress, waiting, completed, canceled or deferred. Dynamics default: not_started."""
    owner_user_id: Str36 | None = None
    """The user who owns it; ACT syncs it to their mailbox."""
    regarding: EntityRef | None = None
    """The record it is about."""
    created_by: EntityRef | None = None  # R-REC-12
    """Who created it: for one tracked from Exchange, its user (a task, an appointment the user organizes) or
    SYSTEM (id ``system``, an appointment someone else organizes); none for one created through the API."""
    modified_by: EntityRef | None = None
    """Who changed it last, by the same rule, when the change came from Exchange."""

    @property
    def state(self) -> TaskState:
        return TASK_STATE_OF[self.status]


class FilterRule(IntEnum):
    """What a user's sync filter selects (a small stand-in for Dynamics' fetchXML filters, R-ACT-3)."""

    NOTHING = 0  # no enabled filter: nothing of this type syncs
    OWNED = 1  # records the user owns
    PARTY = 2  # appointments where the user is the organizer or a required attendee (R-ACT-23)
    PARTY_OR_OWNED = 3


class SyncFilter(Entity):
    """One user's ACT filter for one record type; the id is derived from (user, type)."""

    user_id: Str36
    object_type: EntityType
    rule: FilterRule
    name: Str256 | None = None


DEFAULT_FILTERS: dict[EntityType, FilterRule] = {
    EntityType.APPOINTMENT: FilterRule.PARTY,  # R-ACT-23
    EntityType.CONTACT: FilterRule.OWNED,  # Outlook's "My contacts" template
    EntityType.TASK: FilterRule.OWNED,  # Outlook's "My tasks" template
}
