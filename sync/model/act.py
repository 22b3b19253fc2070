"""Appointments, tasks and the per-user sync filters of ACT synchronization (spec §2.14).

Option values are Dynamics': appointment and task ``statecode``/``statuscode``. Every change to a record
raises ``version_number`` (Dataverse's ``versionnumber``), which is what a mapping remembers as synced.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import IntEnum
from typing import ClassVar

from pydantic import BaseModel, Field, model_validator

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

    kind: RecurrenceKind
    interval: int = Field(default=1, ge=1, le=999)
    weekdays: list[int] = Field(default_factory=list)  # ISO weekday numbers 1..7 (weekly)
    day_of_month: int | None = Field(default=None, ge=1, le=31)  # monthly, yearly
    month: int | None = Field(default=None, ge=1, le=12)  # yearly
    start: date
    end: date | None = None  # the series ends on this date ...
    occurrences: int | None = Field(default=None, ge=1, le=999)  # ... or after this many; neither: no end

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
    description: str | None = Field(default=None, max_length=100_000)
    location: Str200 | None = None
    scheduled_start: datetime
    scheduled_end: datetime
    is_all_day_event: bool = False
    time_zone: Str100 | None = None  # Windows time zone id (EWS StartTimeZone), e.g. "W. Europe Standard Time"
    parties: list[ActivityParty] = Field(default_factory=list)  # organizer, required and optional attendees
    status: AppointmentStatus = AppointmentStatus.BUSY
    owner_user_id: Str36 | None = None
    regarding: EntityRef | None = None
    recurrence: Recurrence | None = None

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
    description: str | None = Field(default=None, max_length=100_000)
    scheduled_end: datetime | None = None  # the due date
    actual_start: datetime | None = None
    actual_end: datetime | None = None  # when it was completed
    percent_complete: int | None = Field(default=None, ge=0, le=100)
    status: TaskStatus = TaskStatus.NOT_STARTED
    owner_user_id: Str36 | None = None
    regarding: EntityRef | None = None

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
