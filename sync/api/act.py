"""Appointments and tasks, and the writes shared by every record type ACT synchronization carries.

Every create, update and delete of an appointment, contact or task goes through
:class:`~sync.act.records.ActRecords`, which marks the mailbox of each user the record concerns (before and
after the change), so that user's next ACT cycle brings it to Exchange (R-ACT-1, R-ACT-4). Contacts use the
same writes (``records.py``), on top of the address index that :class:`~sync.crm.records.RecordService` keeps.

Checks beyond each model's own rules (all 422):

- the owner must be an existing user, and so must every user among an appointment's parties: a mark for a
  user who does not exist would land in no mailbox;
- an appointment's parties are at most one organizer plus required and optional attendees, each naming an
  existing user, queue, contact, account or lead, or else an address;
- times are kept in UTC, as the store keeps them (a time without an offset is UTC), and must be storable
  (from 1601 on); an appointment may not end before it starts, nor a task before it was started.

Only what a change brings is checked: a record whose owner left keeps being editable.

A mailbox's held scheduling conflicts (R-ACT-24) are listed, and answered (save anyway, or not), under
``/mailboxes/{id}/scheduling-conflicts``; the mailbox's next ACT cycle carries the answer out.
"""

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sync.act.answers import SchedulingConflicts
from sync.act.filters import ActRecord
from sync.api.auth import Admin, Reader
from sync.api.context import ApiContext, Ctx
from sync.api.resources import ItemId, Resource, Shape, crud_router
from sync.errors import NotFound, ValidationFailed
from sync.model import Contact, SchedulingConflict
from sync.model.act import Appointment, AppointmentStatus, Task, TaskStatus
from sync.model.fields import EntityRef, Str36
from sync.model.options import EMAIL_ENABLED_TYPES, EntityType, ParticipationType
from sync.store.repository import Repository
from sync.store.store import Store

A = TypeVar("A", Appointment, Contact, Task)

EARLIEST = datetime(1601, 1, 1, tzinfo=UTC)  # Table Storage keeps no earlier date
APPOINTMENT_ROLES = (
    ParticipationType.ORGANIZER,
    ParticipationType.REQUIRED_ATTENDEE,
    ParticipationType.OPTIONAL_ATTENDEE,
)
_RECORD_ID = re.compile(r"[A-Za-z0-9._-]+")  # what a record id can be; anything else names no record


def _utc(name: str, value: datetime) -> datetime:
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or utc < EARLIEST:
        raise ValidationFailed(f"{name} is outside the dates the CRM stores (1601 to 9999, UTC)", field=name)
    return utc


@dataclass(frozen=True)
class ActShape(Shape[A]):
    """A :class:`Shape` whose times arrive in UTC, so a start and an end always compare."""

    def changes(self, body: BaseModel) -> dict[str, Any]:
        return {n: _utc(n, v) if isinstance(v, datetime) else v for n, v in super().changes(body).items()}


def _exists(store: Store, ref: EntityRef) -> bool:
    if _RECORD_ID.fullmatch(ref.id) is None:
        return False
    return store.find_record(ref.type, ref.id) is not None


def check_owner(ctx: ApiContext, record: ActRecord, before: ActRecord | None) -> None:
    """A new owner must be an existing user."""
    owner = record.owner_user_id
    if owner is None or (before is not None and owner == before.owner_user_id):
        return
    if not _exists(ctx.store, EntityRef(type=EntityType.SYSTEM_USER, id=owner)):
        raise ValidationFailed("no user has this id", field="owner_user_id")


def check_contact(ctx: ApiContext, contact: Contact, before: Contact | None) -> None:
    """A new owner must be an existing user, and a new parent account an existing account (no dangling link)."""
    check_owner(ctx, contact, before)
    parent = contact.parent_account_id
    if parent is None or (before is not None and parent == before.parent_account_id):
        return
    if not _exists(ctx.store, EntityRef(type=EntityType.ACCOUNT, id=parent)):
        raise ValidationFailed("no account has this id", field="parent_account_id")


def check_appointment(ctx: ApiContext, appointment: Appointment, before: Appointment | None) -> None:
    check_owner(ctx, appointment, before)
    organizers = [p for p in appointment.parties if p.participation is ParticipationType.ORGANIZER]
    if len(organizers) > 1:
        raise ValidationFailed("an appointment has at most one organizer", field="parties")
    known = {p.party for p in before.parties if p.party is not None} if before else set()
    for n, party in enumerate(appointment.parties):
        if party.participation not in APPOINTMENT_ROLES:
            raise ValidationFailed(
                "an appointment's parties are its organizer, required attendees and optional attendees",
                field=f"parties.{n}.participation",
            )
        if party.party is None:
            if not party.address_used:
                raise ValidationFailed(
                    "a party names a record (party) or an address (address_used)", field=f"parties.{n}"
                )
        elif party.party.type not in EMAIL_ENABLED_TYPES:
            raise ValidationFailed(
                "a party is a user, queue, contact, account or lead", field=f"parties.{n}.party.type"
            )
        elif party.party not in known and not _exists(ctx.store, party.party):
            kind = party.party.type.name.lower().replace("system_", "")
            raise ValidationFailed(f"no {kind} has this id", field=f"parties.{n}.party.id")


def check_task(ctx: ApiContext, task: Task, before: Task | None) -> None:
    check_owner(ctx, task, before)
    if task.actual_start is not None and task.actual_end is not None and task.actual_end < task.actual_start:
        raise ValidationFailed("actual_end is before actual_start", field="actual_end")


def act_resource(
    model: type[A],
    path: str,
    repository: Callable[[Store], Repository[A]],
    *,
    filters: dict[str, Any],
    summary: str,
    check: Callable[[ApiContext, A, A | None], None] = check_owner,
) -> Resource[A]:
    """A CRUD resource whose writes go through ActRecords, after ``check(ctx, record, stored or None)``."""
    shape: ActShape[A] = ActShape(model)

    def insert(ctx: ApiContext, body: BaseModel) -> A:
        record = shape.build(body, ctx.box)
        check(ctx, record, None)
        return cast(A, ctx.act.create(record))

    def save(ctx: ApiContext, stored: A, changed: A) -> A:
        check(ctx, changed, stored)
        return cast(A, ctx.act.update(changed))

    def remove(ctx: ApiContext, record: A) -> None:
        with contextlib.suppress(NotFound):
            ctx.act.delete(record)

    return Resource(
        path=f"/{path}",
        tag=path,
        shape=shape,
        repository=repository,
        row_key="record",
        filters=filters,
        insert=insert,
        save=save,
        remove=remove,
        summary=summary,
    )


APPOINTMENTS = act_resource(
    Appointment,
    "appointments",
    lambda store: store.appointments,
    filters={"owner_user_id": Str36, "status": AppointmentStatus},
    summary="Appointments; each write marks the mailboxes of the owner and the user parties for ACT sync.",
    check=check_appointment,
)
TASKS = act_resource(
    Task,
    "tasks",
    lambda store: store.tasks,
    filters={"owner_user_id": Str36, "status": TaskStatus},
    summary="Tasks; each write marks the owner's mailbox for ACT sync.",
    check=check_task,
)


class ConflictAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    save_anyway: bool = Field(description="Yes: save the appointment despite the conflict; no: do not track it.")


class ConflictView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """The conflict's id, to answer it."""
    subject: str | None
    """The Outlook appointment's subject."""
    start: datetime | None
    """When it starts."""
    end: datetime | None
    """When it ends."""
    save_anyway: bool | None
    """The answer given (null: not answered yet); the mailbox's next ACT cycle carries it out."""
    decided_on: datetime | None
    """When it was answered."""

    @classmethod
    def of(cls, conflict: SchedulingConflict) -> "ConflictView":
        return cls(
            id=conflict.id, subject=conflict.subject, start=conflict.start, end=conflict.end,
            save_anyway=conflict.decision, decided_on=conflict.decided_on,
        )  # fmt: skip


def conflicts_router() -> APIRouter:
    """R-ACT-24: the question "ignore the conflict and save anyway?" and its answer."""
    router = APIRouter(tags=["scheduling conflicts"])
    path = "/mailboxes/{mailbox_id}/scheduling-conflicts"

    @router.get(path, response_model=list[ConflictView], summary="Appointments held by a scheduling conflict")
    def list_conflicts(mailbox_id: ItemId, ctx: Ctx, _: Reader) -> list[ConflictView]:
        return [ConflictView.of(c) for c in SchedulingConflicts(ctx.store, ctx.clock).of(mailbox_id)]

    @router.post(path + "/{conflict_id}/answer", response_model=ConflictView, summary="Save anyway (yes) or not (no)")
    def answer_conflict(
        mailbox_id: ItemId, conflict_id: ItemId, body: ConflictAnswer, ctx: Ctx, _: Admin
    ) -> ConflictView:
        answered = SchedulingConflicts(ctx.store, ctx.clock).answer(
            mailbox_id, conflict_id, save_anyway=body.save_anyway
        )
        return ConflictView.of(answered)

    return router


def build_routers() -> list[APIRouter]:
    return [crud_router(APPOINTMENTS), crud_router(TASKS), conflicts_router()]
