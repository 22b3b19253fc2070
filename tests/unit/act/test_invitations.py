"""When a CRM write reaches a meeting's attendees (R-ACT-7, 8, 9): the pure decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.act.invitations import (
    SENSITIVE,
    Meeting,
    Removal,
    cancel_propagates,
    invite_on_create,
    invite_on_update,
    last_start,
    meeting_of,
    removal,
    writable_changes,
)
from sync.model.act import Appointment, AppointmentStatus, Recurrence, RecurrenceKind
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TOMORROW = NOW + timedelta(days=1)
YESTERDAY = NOW - timedelta(days=1)
ALICE = EntityRef(type=EntityType.SYSTEM_USER, id="alice")
MEETING = Meeting(organized=True, last_start=TOMORROW, has_attendees=True)


def party(role: ParticipationType, who: EntityRef | None = None, address: str | None = None) -> ActivityParty:
    return ActivityParty(participation=role, party=who, address_used=address)


def appointment(*parties: ActivityParty, status: AppointmentStatus = AppointmentStatus.BUSY) -> Appointment:
    return Appointment(
        scheduled_start=TOMORROW, scheduled_end=TOMORROW + timedelta(hours=1), parties=list(parties), status=status
    )


# --- the facts of a meeting -------------------------------------------------------------------------------


def test_meeting_of_an_appointment_alice_organizes_with_an_attendee() -> None:
    seen = meeting_of(
        appointment(
            party(ParticipationType.ORGANIZER, ALICE), party(ParticipationType.OPTIONAL_ATTENDEE, address="c@x.test")
        ),
        "alice",
    )
    assert seen == Meeting(organized=True, last_start=TOMORROW, has_attendees=True)


def test_meeting_of_an_appointment_someone_else_organizes() -> None:
    bob = EntityRef(type=EntityType.SYSTEM_USER, id="bob")
    seen = meeting_of(
        appointment(party(ParticipationType.ORGANIZER, bob), party(ParticipationType.REQUIRED_ATTENDEE, ALICE)),
        "alice",
    )
    assert (seen.organized, seen.has_attendees) == (False, True)


def test_a_contact_with_the_users_id_is_not_the_user() -> None:
    lookalike = EntityRef(type=EntityType.CONTACT, id="alice")
    assert not meeting_of(appointment(party(ParticipationType.ORGANIZER, lookalike)), "alice").organized


def test_an_appointment_without_attendees_is_no_meeting() -> None:
    assert not meeting_of(appointment(party(ParticipationType.ORGANIZER, ALICE)), "alice").has_attendees


# --- R-ACT-7 on create ------------------------------------------------------------------------------------


def test_r_act_7_a_new_meeting_to_come_invites() -> None:
    assert invite_on_create(MEETING, NOW)


@pytest.mark.parametrize(
    "meeting",
    [
        Meeting(organized=True, last_start=YESTERDAY, has_attendees=True),
        Meeting(organized=True, last_start=NOW, has_attendees=True),
        Meeting(organized=True, last_start=TOMORROW, has_attendees=False),
        Meeting(organized=False, last_start=TOMORROW, has_attendees=True),
        Meeting(organized=True, last_start=TOMORROW, has_attendees=True, status=AppointmentStatus.CANCELED),
        Meeting(organized=True, last_start=TOMORROW, has_attendees=True, status=AppointmentStatus.COMPLETED),
    ],
    ids=["past", "starting-now", "no-attendees", "not-organizer", "canceled", "completed"],
)
def test_r_act_7_a_new_appointment_does_not_invite(meeting: Meeting) -> None:
    assert not invite_on_create(meeting, NOW)


# --- R-ACT-7 on update ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SENSITIVE))
def test_r_act_7_each_sensitive_property_sends_an_update(name: str) -> None:
    assert invite_on_update(MEETING, [name], NOW)


@pytest.mark.parametrize("changed", [["reminder"], ["time_zone"], []])
def test_r_act_7_no_sensitive_change_sends_nothing(changed: list[str]) -> None:
    assert not invite_on_update(MEETING, changed, NOW)


@pytest.mark.parametrize(
    "meeting",
    [
        Meeting(organized=True, last_start=YESTERDAY, has_attendees=True),
        Meeting(organized=False, last_start=TOMORROW, has_attendees=True),
        Meeting(organized=True, last_start=TOMORROW, has_attendees=False),
        Meeting(organized=True, last_start=TOMORROW, has_attendees=True, status=AppointmentStatus.CANCELED),
    ],
    ids=["past", "not-organizer", "no-attendees", "canceled"],
)
def test_r_act_7_a_sensitive_change_does_not_send(meeting: Meeting) -> None:
    assert not invite_on_update(meeting, ["subject"], NOW)


# --- R-ACT-9 past meetings --------------------------------------------------------------------------------


CHANGES: dict[str, object] = {"subject": "Moved", "location": "Room 2", "free_busy": "Free", "reminder": False}


def test_r_act_9_a_past_meeting_keeps_its_sensitive_properties_but_shows_free() -> None:
    past = Meeting(organized=True, last_start=YESTERDAY, has_attendees=True)
    assert writable_changes(past, CHANGES, NOW, update_past_meetings=False) == {"free_busy": "Free", "reminder": False}


def test_r_act_9_the_setting_writes_past_meetings_whole() -> None:
    past = Meeting(organized=True, last_start=YESTERDAY, has_attendees=True)
    assert writable_changes(past, CHANGES, NOW, update_past_meetings=True) == CHANGES


@pytest.mark.parametrize(
    "meeting",
    [MEETING, Meeting(organized=True, last_start=YESTERDAY, has_attendees=False)],
    ids=["to-come", "past-appointment-without-attendees"],
)
def test_r_act_9_other_appointments_are_written_whole(meeting: Meeting) -> None:
    assert writable_changes(meeting, CHANGES, NOW, update_past_meetings=False) == CHANGES


# --- R-ACT-8 deletes --------------------------------------------------------------------------------------


def test_r_act_8_a_meeting_the_organizer_deletes_before_it_starts_is_canceled() -> None:
    assert removal(MEETING, NOW, physical=True) is Removal.CANCEL


def test_r_act_8_an_appointment_without_attendees_is_deleted_quietly() -> None:
    alone = Meeting(organized=True, last_start=TOMORROW, has_attendees=False)
    assert removal(alone, NOW, physical=True) is Removal.DELETE


@pytest.mark.parametrize(
    ("meeting", "physical"),
    [
        (MEETING, False),
        (Meeting(organized=True, last_start=YESTERDAY, has_attendees=True), True),
        (Meeting(organized=False, last_start=TOMORROW, has_attendees=True), True),
        (None, True),
    ],
    ids=["logical-delete", "past", "not-organizer", "nothing-known"],
)
def test_r_act_8_otherwise_the_item_stays_unlinked(meeting: Meeting | None, physical: bool) -> None:
    assert removal(meeting, NOW, physical=physical) is Removal.UNLINK


# --- R-ACT-9 cancels --------------------------------------------------------------------------------------

CANCELED = Meeting(organized=True, last_start=TOMORROW, has_attendees=True, status=AppointmentStatus.CANCELED)


def test_r_act_9_a_cancel_is_an_update_by_default() -> None:
    assert cancel_propagates(CANCELED, NOW, propagate_cancellations=False) is None


def test_r_act_9_with_the_setting_a_cancel_cancels_the_meeting() -> None:
    assert cancel_propagates(CANCELED, NOW, propagate_cancellations=True) is Removal.CANCEL


@pytest.mark.parametrize(
    "meeting",
    [
        Meeting(organized=True, last_start=YESTERDAY, has_attendees=True, status=AppointmentStatus.CANCELED),
        Meeting(organized=False, last_start=TOMORROW, has_attendees=True, status=AppointmentStatus.CANCELED),
        MEETING,
    ],
    ids=["past", "not-organizer", "not-canceled"],
)
def test_r_act_9_the_setting_leaves_other_appointments_to_updates(meeting: Meeting) -> None:
    assert cancel_propagates(meeting, NOW, propagate_cancellations=True) is None


# --- "to come" for a series -------------------------------------------------------------------------------

LAST_MONTH = NOW - timedelta(days=30)


def series(**parts: object) -> Appointment:
    values: dict[str, object] = {"kind": RecurrenceKind.WEEKLY, "weekdays": [1], "start": LAST_MONTH.date()}
    return Appointment(
        scheduled_start=LAST_MONTH, scheduled_end=LAST_MONTH + timedelta(hours=1),
        recurrence=Recurrence.model_validate(values | parts),
    )  # fmt: skip


def test_a_single_appointment_starts_once() -> None:
    assert last_start(appointment()) == TOMORROW


def test_a_series_that_began_last_month_and_goes_on_is_to_come() -> None:
    assert meeting_of(series(end=(NOW + timedelta(days=60)).date()), "alice").to_come(NOW)
    assert meeting_of(series(), "alice").to_come(NOW)  # no end


def test_a_series_whose_end_date_passed_is_past() -> None:
    assert last_start(series(end=(NOW - timedelta(days=2)).date())) < NOW


def test_a_counted_series_ends_after_its_weeks() -> None:
    twice_a_week = series(weekdays=[1, 4], occurrences=4)  # two weeks
    assert last_start(twice_a_week) == LAST_MONTH + timedelta(weeks=2)
    assert not meeting_of(twice_a_week, "alice").to_come(NOW)
    assert meeting_of(series(kind=RecurrenceKind.MONTHLY, weekdays=[], occurrences=3), "alice").to_come(NOW)
