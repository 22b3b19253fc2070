from datetime import UTC, date, datetime, timedelta

import pytest

from sync.act.conflict import Direction
from sync.act.fields import (
    DIRECTIONS,
    apply_appointment,
    apply_contact,
    apply_task,
    appointment_fields,
    contact_fields,
    new_appointment,
    new_contact,
    new_task,
    recurrence,
    task_fields,
)
from sync.model import Contact
from sync.model.act import Appointment, AppointmentStatus, Recurrence, RecurrenceKind, Task, TaskStatus
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType

NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)
START = datetime(2026, 11, 10, 9, tzinfo=UTC)
ALICE = EntityRef(type=EntityType.SYSTEM_USER, id="alice")
BOB = EntityRef(type=EntityType.CONTACT, id="bob")
DIRECTORY = {ALICE: "Alice@Example.test", BOB: "bob@customer.test"}
Role = ParticipationType


def addresses_of(ref: EntityRef) -> str | None:
    return DIRECTORY.get(ref)


def resolve(address: str) -> EntityRef | None:
    return next((ref for ref, known in DIRECTORY.items() if known.casefold() == address), None)


def party(role: ParticipationType, ref: EntityRef | None = None, address: str | None = None) -> ActivityParty:
    return ActivityParty(participation=role, party=ref, address_used=address)


def meeting(**fields: object) -> Appointment:
    values: dict[str, object] = {
        "subject": "Review",
        "scheduled_start": START,
        "scheduled_end": START + timedelta(hours=1),
        "created_on": NOW,
        "parties": [party(Role.ORGANIZER, ALICE), party(Role.REQUIRED_ATTENDEE, BOB)],
    }
    return Appointment.model_validate(values | fields)


def fields_of(a: Appointment) -> dict[str, object]:
    return appointment_fields(a, addresses_of, NOW)


@pytest.mark.parametrize(
    ("status", "free_busy"),
    [
        (AppointmentStatus.COMPLETED, "Free"),
        (AppointmentStatus.CANCELED, "Free"),
        (AppointmentStatus.FREE, "Free"),
        (AppointmentStatus.TENTATIVE, "Tentative"),
        (AppointmentStatus.BUSY, "Busy"),
        (AppointmentStatus.OUT_OF_OFFICE, "OOF"),
    ],
)
def test_free_busy_follows_the_crm_status(status: AppointmentStatus, free_busy: str) -> None:  # R-ACT-6
    assert fields_of(meeting(status=status))["free_busy"] == free_busy


@pytest.mark.parametrize(
    ("status", "created_days_ago", "reminder"),
    [
        (AppointmentStatus.BUSY, 7, True),
        (AppointmentStatus.BUSY, 8, False),
        (AppointmentStatus.TENTATIVE, 0, True),
        (AppointmentStatus.FREE, 0, False),
        (AppointmentStatus.COMPLETED, 0, False),
        (AppointmentStatus.CANCELED, 0, False),
    ],
)
def test_no_reminder_when_closed_free_or_created_over_a_week_ago(
    status: AppointmentStatus, created_days_ago: int, reminder: bool
) -> None:  # R-ACT-6
    created = NOW - timedelta(days=created_days_ago)
    assert fields_of(meeting(status=status, created_on=created))["reminder"] is reminder


def test_attendees_are_the_current_addresses_of_resolved_parties_else_the_address_used() -> None:
    a = meeting(
        parties=[
            party(Role.ORGANIZER, ALICE),
            party(Role.REQUIRED_ATTENDEE, BOB, "old@customer.test"),
            party(Role.REQUIRED_ATTENDEE, address=" Zed@Elsewhere.test "),
            party(Role.OPTIONAL_ATTENDEE, ALICE),
        ]
    )
    fields = fields_of(a)
    assert (fields["required"], fields["optional"]) == (
        ("bob@customer.test", "zed@elsewhere.test"),
        ("alice@example.test",),
    )


def test_values_are_normalised() -> None:
    a = meeting(
        subject=" Review ",
        description="Agenda\r\n",
        location="  ",
        scheduled_start=START.replace(microsecond=500) - timedelta(hours=1),
        time_zone="UTC",
    )
    fields = fields_of(a)
    assert (fields["subject"], fields["body"], fields["location"], fields["time_zone"]) == (
        "Review",
        "Agenda",
        None,
        None,
    )
    start = fields["start"]
    assert isinstance(start, datetime) and start.tzinfo is UTC and start == START - timedelta(hours=1)


@pytest.mark.parametrize(
    ("status", "free_busy", "after"),
    [
        (AppointmentStatus.COMPLETED, "Free", AppointmentStatus.COMPLETED),
        (AppointmentStatus.CANCELED, "Free", AppointmentStatus.CANCELED),
        (AppointmentStatus.BUSY, "Free", AppointmentStatus.FREE),
        (AppointmentStatus.BUSY, "WorkingElsewhere", AppointmentStatus.FREE),
        (AppointmentStatus.FREE, "Busy", AppointmentStatus.BUSY),
        (AppointmentStatus.BUSY, "Tentative", AppointmentStatus.TENTATIVE),
        (AppointmentStatus.BUSY, "OOF", AppointmentStatus.OUT_OF_OFFICE),
        (AppointmentStatus.TENTATIVE, "NoData", AppointmentStatus.TENTATIVE),
    ],
)
def test_exchange_free_busy_sets_the_status(
    status: AppointmentStatus, free_busy: str, after: AppointmentStatus
) -> None:  # R-ACT-10
    a = meeting(status=status)
    apply_appointment(a, {"free_busy": free_busy}, resolve)
    assert a.status is after


def test_attendees_become_parties_and_the_organizer_stays() -> None:
    a = meeting(parties=[party(Role.ORGANIZER, ALICE), party(Role.REQUIRED_ATTENDEE, BOB, "bob@customer.test")])
    apply_appointment(a, {"required": ("bob@customer.test", "new@elsewhere.test"), "optional": ()}, resolve)
    assert a.parties == [
        party(Role.ORGANIZER, ALICE),
        party(Role.REQUIRED_ATTENDEE, BOB, "bob@customer.test"),
        party(Role.REQUIRED_ATTENDEE, address="new@elsewhere.test"),
    ]


def test_an_appointment_moves_past_its_old_end() -> None:
    a = meeting()
    later = START + timedelta(days=2)
    apply_appointment(a, {"start": later, "end": later + timedelta(hours=1)}, resolve)
    assert (a.scheduled_start, a.scheduled_end) == (later, later + timedelta(hours=1))


def test_an_appointment_round_trips_through_its_fields() -> None:
    a = meeting(
        description="Agenda",
        location="Room 1",
        time_zone="W. Europe Standard Time",
        status=AppointmentStatus.TENTATIVE,
        parties=[
            party(Role.ORGANIZER, ALICE),
            party(Role.REQUIRED_ATTENDEE, BOB),
            party(Role.OPTIONAL_ATTENDEE, ALICE),
        ],
        recurrence=Recurrence(kind=RecurrenceKind.WEEKLY, weekdays=[3, 1], start=START.date(), occurrences=4),
    )
    copy = meeting(subject="Other", parties=[party(Role.ORGANIZER, ALICE)])
    apply_appointment(copy, fields_of(a), resolve)
    assert fields_of(copy) == fields_of(a)


def test_an_appointment_tracked_from_exchange_has_its_organizer() -> None:
    fields = fields_of(meeting(status=AppointmentStatus.FREE))
    a = new_appointment(fields, "alice", ALICE, resolve)
    assert (a.organizer, a.owner_user_id, a.status) == (party(Role.ORGANIZER, ALICE), "alice", AppointmentStatus.FREE)
    assert fields_of(a) == fields


def test_a_recurrence_keeps_only_what_its_kind_uses() -> None:
    given = Recurrence(kind=RecurrenceKind.YEARLY, weekdays=[2], start=date(2026, 3, 17), end=date(2030, 3, 17))
    assert recurrence(given) == Recurrence(
        kind=RecurrenceKind.YEARLY, day_of_month=17, month=3, start=date(2026, 3, 17), end=date(2030, 3, 17)
    )


def customer() -> Contact:
    return Contact(
        first_name="Ada",
        last_name="Lovelace",
        email_address1="Ada@Engines.test",
        job_title="Chief Mathematician",
        company_name="Analytical Engines Ltd",
        telephone1="+44 20 7946 0000",
        address1_line1="12 St James's Square",
        address1_city="London",
        owner_user_id="alice",
    )


def test_contact_fields_name_the_exchange_side() -> None:
    fields = contact_fields(customer())
    assert (fields["email1"], fields["email2"], fields["company"], fields["business_phone"], fields["street"]) == (
        "ada@engines.test",
        None,
        "Analytical Engines Ltd",
        "+44 20 7946 0000",
        "12 St James's Square",
    )


def test_a_contact_round_trips_through_its_fields() -> None:
    copy = Contact(last_name="Other", email_address2="x@y.test", mobile_phone="1")
    apply_contact(copy, contact_fields(customer()))
    assert contact_fields(copy) == contact_fields(customer())


def test_a_contact_from_exchange_without_a_last_name_gets_an_empty_one() -> None:
    c = new_contact({"first_name": "Cher", "last_name": None}, "alice")
    assert (c.first_name, c.last_name, c.owner_user_id) == ("Cher", "", "alice")


def follow_up(**fields: object) -> Task:
    values: dict[str, object] = {"subject": "Send the quote", "scheduled_end": datetime(2026, 11, 10, 17, tzinfo=UTC)}
    return Task.model_validate(values | fields)


@pytest.mark.parametrize(
    ("status", "ews_status", "percent"),
    [
        (TaskStatus.NOT_STARTED, "NotStarted", 0),
        (TaskStatus.IN_PROGRESS, "InProgress", 0),
        (TaskStatus.WAITING, "WaitingOnOthers", 0),
        (TaskStatus.DEFERRED, "Deferred", 0),
        (TaskStatus.COMPLETED, "Completed", 100),
        (TaskStatus.CANCELED, "Completed", 100),
    ],
)
def test_the_task_status_maps_to_exchange(status: TaskStatus, ews_status: str, percent: int) -> None:  # R-ACT-17
    fields = task_fields(follow_up(status=status), NOW)
    assert (fields["status"], fields["percent_complete"], fields["due"]) == (ews_status, percent, date(2026, 11, 10))


def test_a_completed_task_has_its_actual_end_as_complete_date() -> None:  # R-ACT-17
    done = follow_up(status=TaskStatus.COMPLETED, actual_end=datetime(2026, 11, 1, 23, 30, tzinfo=UTC))
    assert task_fields(done, NOW)["complete_date"] == date(2026, 11, 1)


def test_a_past_actual_end_completes_the_task() -> None:  # R-ACT-17
    fields = task_fields(follow_up(actual_end=NOW - timedelta(hours=1)), NOW)
    assert (fields["status"], fields["complete_date"]) == ("Completed", NOW.date())


def test_an_open_task_has_no_complete_date() -> None:
    assert task_fields(follow_up(actual_end=NOW + timedelta(days=1)), NOW)["complete_date"] is None


@pytest.mark.parametrize(
    ("ews_status", "status"),
    [
        ("NotStarted", TaskStatus.NOT_STARTED),
        ("InProgress", TaskStatus.IN_PROGRESS),
        ("WaitingOnOthers", TaskStatus.WAITING),
        ("Deferred", TaskStatus.DEFERRED),
    ],
)
def test_an_exchange_status_sets_the_crm_status(ews_status: str, status: TaskStatus) -> None:  # R-ACT-18
    t = follow_up(status=TaskStatus.COMPLETED)
    apply_task(t, {"status": ews_status}, NOW)
    assert t.status is status


def test_completed_in_exchange_completes_at_the_complete_date() -> None:  # R-ACT-18
    t = follow_up()
    apply_task(t, {"status": "Completed", "complete_date": date(2026, 11, 1)}, NOW)
    assert (t.status, t.actual_end) == (TaskStatus.COMPLETED, datetime(2026, 11, 1, tzinfo=UTC))


def test_completed_in_exchange_without_a_date_completes_now() -> None:  # R-ACT-18
    t = follow_up()
    apply_task(t, {"status": "Completed"}, NOW)
    assert (t.status, t.actual_end) == (TaskStatus.COMPLETED, NOW)


def test_a_canceled_task_stays_canceled_when_exchange_says_completed() -> None:
    t = follow_up(status=TaskStatus.CANCELED, actual_end=NOW)
    apply_task(t, {"status": "Completed"}, NOW)
    assert (t.status, t.actual_end) == (TaskStatus.CANCELED, NOW)


def test_a_new_due_date_keeps_the_time_of_day() -> None:
    t = follow_up()
    apply_task(t, {"due": date(2026, 11, 12)}, NOW)
    assert t.scheduled_end == datetime(2026, 11, 12, 17, tzinfo=UTC)


def test_a_task_from_exchange_starts_now() -> None:  # R-ACT-18
    t = new_task({"subject": "Call back", "start": date(2026, 10, 1), "status": "InProgress"}, "alice", NOW)
    assert (t.subject, t.actual_start, t.status, t.owner_user_id) == ("Call back", NOW, TaskStatus.IN_PROGRESS, "alice")


def test_a_task_round_trips_through_its_fields() -> None:
    t = follow_up(
        description="Prices\nas agreed",
        actual_start=datetime(2026, 11, 1, 8, tzinfo=UTC),
        status=TaskStatus.COMPLETED,
        actual_end=datetime(2026, 11, 2, 9, tzinfo=UTC),
    )
    copy = follow_up(subject="Other", status=TaskStatus.WAITING)
    apply_task(copy, task_fields(t, NOW), NOW)
    assert task_fields(copy, NOW) == task_fields(t, NOW)


@pytest.mark.parametrize(
    ("record", "fields"),
    [
        (EntityType.APPOINTMENT, fields_of(meeting())),
        (EntityType.CONTACT, contact_fields(customer())),
        (EntityType.TASK, task_fields(follow_up(), NOW)),
    ],
)
def test_every_field_has_a_direction(record: EntityType, fields: dict[str, object]) -> None:  # R-ACT-5
    assert DIRECTIONS[record].keys() == fields.keys()


def test_derived_fields_do_not_flow_back() -> None:  # R-ACT-5, R-ACT-6, R-ACT-17
    assert DIRECTIONS[EntityType.APPOINTMENT]["reminder"] is Direction.TO_EXCHANGE
    assert DIRECTIONS[EntityType.TASK]["percent_complete"] is Direction.NONE
