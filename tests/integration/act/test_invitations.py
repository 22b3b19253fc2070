"""Meeting invitations, updates and cancellations of CRM appointments (R-ACT-7, R-ACT-8, R-ACT-9), each case both
ways (sent / not sent), against the Exchange test server and Azurite.

What reached the attendees is read through :func:`messages` and :func:`calendar`, the only places that know the
server, so the same scenarios can run against another Exchange API's test server.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sync.model.act import Appointment, AppointmentStatus, FilterRule, Recurrence, RecurrenceKind, SyncFilter
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType
from tests.ews.meetings import CANCELED_CLASS, REQUEST_CLASS
from tests.ews.state import Item
from tests.ews.values import Body
from tests.integration.act.conftest import ALICE, SOON, ActWorld

pytestmark = pytest.mark.integration

BOB = "bob@example.test"  # a mailbox on the same Exchange: meeting messages land in his Inbox
CAROL = "carol@elsewhere.test"
PAST = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)
KINDS = {"request": REQUEST_CLASS, "cancellation": CANCELED_CLASS}


def messages(act: ActWorld, kind: str) -> list[tuple[str, ...]]:
    """The recipients of each meeting request or cancellation Alice's mailbox sent."""
    return [m.recipients for m in act.ews.sent_messages if m.sender == ALICE and m.item_class == KINDS[kind]]


def inbox(act: ActWorld, kind: str) -> list[str | None]:
    """Subjects of the meeting requests or cancellations in Bob's Inbox."""
    return [i.subject for i in act.ews.items(BOB, "inbox") if i.item_class == KINDS[kind]]


def calendar(act: ActWorld) -> list[Item]:
    return act.ews.items(ALICE, "calendar")


def attendee(address: str, role: ParticipationType = ParticipationType.REQUIRED_ATTENDEE) -> ActivityParty:
    return ActivityParty(participation=role, address_used=address)


def meeting(act: ActWorld, *attendees: str, start: datetime = SOON, **fields: object) -> Appointment:
    """A meeting Alice organizes with these attendees (none: an appointment)."""
    organizer = ActivityParty(participation=ParticipationType.ORGANIZER, party=act.user)
    return act.meeting(
        f"Meeting {uuid.uuid4().hex[:6]}", scheduled_start=start, scheduled_end=start + timedelta(hours=1),
        parties=[organizer, *(attendee(a) for a in attendees)], **fields,
    )  # fmt: skip


def edit(act: ActWorld, appointment: Appointment, **changes: object) -> Appointment:
    fresh = act.store.appointments.get(appointment.id, "record")
    for name, value in changes.items():
        setattr(fresh, name, value)
    saved = act.records.update(fresh)
    assert isinstance(saved, Appointment)
    return saved


def organization(act: ActWorld, **settings: bool) -> None:
    org = act.store.get_organization()
    for name, value in settings.items():
        setattr(org, name, value)
    act.store.organization.upsert(org)


# --- R-ACT-7: invitations on create ---------------------------------------------------------------------


def test_r_act_7_a_new_meeting_invites_its_attendees(act: ActWorld) -> None:
    created = meeting(act, BOB, CAROL)

    assert act.cycle().created_in_exchange == 1

    assert [sorted(r) for r in messages(act, "request")] == [[BOB, CAROL]]
    assert inbox(act, "request") == [created.subject]


def test_r_act_7_a_past_meeting_an_appointment_without_attendees_and_a_meeting_alice_attends_invite_nobody(
    act: ActWorld,
) -> None:
    meeting(act, BOB, start=PAST)
    meeting(act)
    act.meeting(
        "Bob's review", parties=[
            ActivityParty(participation=ParticipationType.ORGANIZER, address_used=CAROL),
            ActivityParty(participation=ParticipationType.REQUIRED_ATTENDEE, party=act.user),
            attendee(BOB),
        ],
    )  # fmt: skip

    assert act.cycle().created_in_exchange == 3

    assert messages(act, "request") == [] and inbox(act, "request") == []


# --- R-ACT-7: updates -----------------------------------------------------------------------------------


def test_r_act_7_a_sensitive_change_sends_the_update_and_others_do_not(act: ActWorld) -> None:
    created = meeting(act, BOB)
    act.cycle()
    act.ews.reset_calls()

    edit(act, created, regarding=EntityRef(type=EntityType.CONTACT, id=str(uuid.uuid4())))  # not synced
    assert act.cycle().updated_in_exchange == 1
    assert len(messages(act, "request")) == 1  # the invitation only

    edit(act, created, location="Room 7")
    assert act.cycle().updated_in_exchange == 1
    assert messages(act, "request") == [(BOB,), (BOB,)]
    assert inbox(act, "request") == [created.subject, created.subject]


def test_r_act_7_an_attendee_removed_gets_a_cancellation(act: ActWorld) -> None:
    created = meeting(act, BOB, CAROL)
    act.cycle()

    fresh = act.store.appointments.get(created.id, "record")
    edit(act, created, parties=[p for p in fresh.parties if p.address_used != BOB])
    act.cycle()

    assert messages(act, "request")[-1] == (CAROL,)
    assert messages(act, "cancellation") == [(BOB,)]
    assert inbox(act, "cancellation") == [f"Canceled: {created.subject}"]


def test_r_act_7_a_crm_change_merged_with_an_outlook_edit_updates_the_attendees(act: ActWorld) -> None:
    created = meeting(act, BOB)
    act.cycle()
    item_id = act.link(EntityType.APPOINTMENT, created.id)
    assert item_id is not None
    act.ews.update_item_fields(ALICE, item_id, body=Body("Agenda from Outlook"))
    edit(act, created, location="Room 5")  # later than the Outlook edit (or the same second): the CRM wins

    report = act.cycle()

    assert (report.conflicts, report.updated_in_exchange) == (1, 1)
    [item] = calendar(act)
    assert item.value("location", str) == "Room 5"
    assert messages(act, "request") == [(BOB,), (BOB,)]


# --- R-ACT-9: past meetings -----------------------------------------------------------------------------


def test_r_act_9_a_past_meeting_is_not_changed_in_exchange_but_shows_free_once_completed(act: ActWorld) -> None:
    past = meeting(act, BOB, start=PAST, location="Room 1")
    act.cycle()

    edit(act, past, location="Room 9", status=AppointmentStatus.COMPLETED)
    act.cycle()

    [item] = calendar(act)
    assert (item.value("location", str), item.value("legacy_free_busy_status", str)) == ("Room 1", "Free")
    assert messages(act, "request") == []


def test_r_act_9_with_the_setting_a_past_meeting_is_changed_without_telling_anyone(act: ActWorld) -> None:
    organization(act, update_past_meetings_in_exchange=True)
    past = meeting(act, BOB, start=PAST, location="Room 1")
    act.cycle()

    edit(act, past, location="Room 9")
    act.cycle()

    [item] = calendar(act)
    assert item.value("location", str) == "Room 9"
    assert messages(act, "request") == []


def test_r_act_7_r_act_9_a_series_that_began_but_goes_on_is_still_to_come(act: ActWorld) -> None:
    weekly = Recurrence(kind=RecurrenceKind.WEEKLY, weekdays=[PAST.isoweekday()], start=PAST.date(), occurrences=10)
    created = meeting(act, BOB, start=PAST, recurrence=weekly)
    act.cycle()

    edit(act, created, location="Room 3")
    act.cycle()

    [item] = calendar(act)
    assert item.value("location", str) == "Room 3"
    assert messages(act, "request") == [(BOB,), (BOB,)]  # the invitation, then the update


# --- R-ACT-8: deletes -----------------------------------------------------------------------------------


def test_r_act_8_a_meeting_deleted_in_the_crm_before_it_starts_is_canceled(act: ActWorld) -> None:
    created = meeting(act, BOB, CAROL)
    act.cycle()

    act.records.delete(act.store.appointments.get(created.id, "record"))
    assert act.cycle().deleted_in_exchange == 1

    assert calendar(act) == []
    assert [sorted(r) for r in messages(act, "cancellation")] == [[BOB, CAROL]]
    assert inbox(act, "cancellation") == [f"Canceled: {created.subject}"]


def test_r_act_8_an_appointment_without_attendees_is_deleted_without_messages(act: ActWorld) -> None:
    created = meeting(act)
    act.cycle()

    act.records.delete(act.store.appointments.get(created.id, "record"))
    assert act.cycle().deleted_in_exchange == 1

    assert calendar(act) == [] and messages(act, "cancellation") == []


def test_r_act_8_a_past_meeting_deleted_in_the_crm_stays_in_exchange_unlinked(act: ActWorld) -> None:
    past = meeting(act, BOB, start=PAST)
    act.cycle()

    act.records.delete(act.store.appointments.get(past.id, "record"))
    assert act.cycle().deleted_in_exchange == 0

    assert len(calendar(act)) == 1 and act.link(EntityType.APPOINTMENT, past.id) is None
    assert messages(act, "cancellation") == []


def test_r_act_8_a_meeting_alice_attends_deleted_in_the_crm_stays_in_her_calendar(act: ActWorld) -> None:
    theirs = act.meeting(
        "Carol's review", parties=[
            ActivityParty(participation=ParticipationType.ORGANIZER, address_used=CAROL),
            ActivityParty(participation=ParticipationType.REQUIRED_ATTENDEE, party=act.user),
            attendee(BOB),
        ],
    )  # fmt: skip
    act.cycle()

    act.records.delete(act.store.appointments.get(theirs.id, "record"))
    assert act.cycle().deleted_in_exchange == 0

    assert len(calendar(act)) == 1 and messages(act, "cancellation") == []


def test_r_act_8_a_logical_delete_leaves_the_meeting_and_tells_nobody(act: ActWorld) -> None:
    created = meeting(act, BOB)
    act.cycle()
    act.store.sync_filters.insert(
        SyncFilter(user_id=act.user.id, object_type=EntityType.APPOINTMENT, rule=FilterRule.NOTHING)
    )
    act.store.act_links.note_change(act.mailbox.id, EntityType.APPOINTMENT, created.id, created.version_number)

    assert act.cycle().deleted_in_exchange == 0

    assert len(calendar(act)) == 1 and act.link(EntityType.APPOINTMENT, created.id) is None
    assert messages(act, "cancellation") == []


# --- R-ACT-9: cancels -----------------------------------------------------------------------------------


def test_r_act_9_a_cancel_shows_free_and_tells_nobody(act: ActWorld) -> None:
    created = meeting(act, BOB)
    act.cycle()

    edit(act, created, status=AppointmentStatus.CANCELED)
    assert act.cycle().updated_in_exchange == 1

    [item] = calendar(act)
    assert item.value("legacy_free_busy_status", str) == "Free"
    assert messages(act, "cancellation") == [] and len(messages(act, "request")) == 1  # the invitation only


def test_r_act_9_with_the_setting_a_cancel_cancels_the_meeting_and_it_stays_away(act: ActWorld) -> None:
    organization(act, propagate_appointment_cancellations_to_exchange=True)
    created = meeting(act, BOB)
    act.cycle()

    canceled = edit(act, created, status=AppointmentStatus.CANCELED)
    assert act.cycle().deleted_in_exchange == 1

    assert calendar(act) == [] and messages(act, "cancellation") == [(BOB,)]
    edit(act, canceled, description="Canceled: the customer moved the visit")
    report = act.cycle()
    assert (report.created_in_exchange, report.item_errors, calendar(act)) == (0, 0, [])
    link = act.store.act_links.find(act.mailbox.id, EntityType.APPOINTMENT, created.id)
    assert link is not None and link.exchange_entry_id is None and not link.pending
