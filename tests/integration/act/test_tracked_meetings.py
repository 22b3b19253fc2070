"""Appointments tracked from Exchange keep their organizer and attendees; copies are not tracked again
(R-ACT-13, R-ACT-19, R-ACT-20), against the EWS test server and Azurite."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from sync.crm.records import RecordService
from sync.incoming.marks import TRACKED_CATEGORY
from sync.model import Account, Contact
from sync.model.act import Appointment
from sync.model.fields import SYSTEM_USER, EntityRef
from sync.model.options import EntityType, ParticipationType
from tests.ews.values import Attendee
from tests.integration.act.conftest import ALICE, SOON, ActWorld

pytestmark = pytest.mark.integration


def tracked(act: ActWorld, subject: str) -> Appointment:
    [found] = list(act.store.appointments.query("subject eq @s", {"s": subject}))
    return found


def roles(appointment: Appointment) -> dict[ParticipationType, list[tuple[EntityRef | None, str | None]]]:
    found: dict[ParticipationType, list[tuple[EntityRef | None, str | None]]] = {}
    for p in appointment.parties:
        found.setdefault(p.participation, []).append((p.party, p.address_used))
    return found


def test_r_act_13_r_act_20_an_invitation_alice_tracks_keeps_its_organizer_and_makes_her_an_attendee(
    act: ActWorld,
) -> None:
    organizer = f"bob-{uuid.uuid4().hex[:6]}@fabrikam.test"
    bob = RecordService(act.store).create(Contact(last_name="Bob", email_address1=organizer))
    subject = f"Supplier review {uuid.uuid4().hex[:6]}"
    act.ews.create_calendar_item(
        ALICE, subject=subject, start=SOON + timedelta(days=1), end=SOON + timedelta(days=1, hours=1),
        categories=[TRACKED_CATEGORY], organizer=organizer,
        required_attendees=[Attendee(ALICE), Attendee("carol@elsewhere.test")],
    )  # fmt: skip

    assert act.cycle().created_in_crm == 1

    parties = roles(tracked(act, subject))
    assert parties[ParticipationType.ORGANIZER] == [(EntityRef(type=EntityType.CONTACT, id=bob.id), organizer)]
    assert sorted(parties[ParticipationType.REQUIRED_ATTENDEE], key=str) == sorted(
        [(act.user, ALICE), (None, "carol@elsewhere.test")], key=str
    )  # Alice, an attendee, tracked it (R-ACT-20); she is not its organizer
    assert tracked(act, subject).created_by == SYSTEM_USER  # R-REC-12: not the organizer's mailbox


def test_r_res_12_an_attendee_resolves_as_an_emails_sender_would(act: ActWorld) -> None:
    """One address on an account and a contact: the contact, as for a sender (the account's index row comes first)."""
    shared = f"office-{uuid.uuid4().hex[:6]}@fabrikam.test"
    records = RecordService(act.store)
    records.create(Account(name="Fabrikam front desk", email_address1=shared))
    dana = records.create(Contact(last_name="Dana", email_address1=shared))
    assert [m.type for m in act.store.address_index.lookup(shared)] == [EntityType.ACCOUNT, EntityType.CONTACT]
    subject = f"Site visit {uuid.uuid4().hex[:6]}"
    act.ews.create_calendar_item(
        ALICE, subject=subject, start=SOON + timedelta(days=3), end=SOON + timedelta(days=3, hours=1),
        categories=[TRACKED_CATEGORY], required_attendees=[Attendee(shared)],
    )  # fmt: skip

    act.cycle()

    assert roles(tracked(act, subject))[ParticipationType.REQUIRED_ATTENDEE] == [
        (EntityRef(type=EntityType.CONTACT, id=dana.id), shared)
    ]


def test_r_act_13_an_appointment_alice_organizes_in_outlook_has_her_as_organizer(act: ActWorld) -> None:
    subject = f"Focus time {uuid.uuid4().hex[:6]}"
    act.ews.create_calendar_item(
        ALICE, subject=subject, start=SOON + timedelta(days=2), end=SOON + timedelta(days=2, hours=1),
        categories=[TRACKED_CATEGORY],
    )  # fmt: skip

    act.cycle()

    assert roles(tracked(act, subject))[ParticipationType.ORGANIZER] == [(act.user, None)]
    assert tracked(act, subject).created_by == act.user  # R-REC-12: the organizer's own mailbox


def test_r_rec_12_a_task_tracked_from_outlook_is_created_as_the_mailbox_user(act: ActWorld) -> None:
    subject = f"Call back {uuid.uuid4().hex[:6]}"
    act.ews.create_task(ALICE, subject=subject, categories=[TRACKED_CATEGORY])

    assert act.cycle().created_in_crm == 1

    [task] = list(act.store.tasks.query("subject eq @s", {"s": subject}))
    assert (task.created_by, task.modified_by) == (act.user, act.user)


def test_r_act_19_a_copy_of_a_linked_appointment_is_not_tracked_as_a_second_record(act: ActWorld) -> None:
    subject = f"Kick-off {uuid.uuid4().hex[:6]}"
    meeting = act.meeting(
        subject, scheduled_start=SOON + timedelta(days=4), scheduled_end=SOON + timedelta(days=4, hours=1)
    )
    act.cycle()
    original_id = act.link(EntityType.APPOINTMENT, meeting.id)
    original = next(i for i in act.ews.items(ALICE, "calendar") if i.item_id == original_id)
    act.ews.mailbox(ALICE).create_item(
        "CalendarItem", original.extra, categories=[TRACKED_CATEGORY], extended_properties=original.extended_properties
    )  # Outlook's copy keeps every property, the CRM's stamp too

    report = act.cycle()

    assert (report.copies_ignored, report.created_in_crm) == (1, 0)
    assert [a.id for a in act.store.appointments.query("subject eq @s", {"s": subject})] == [meeting.id]
    assert act.link(EntityType.APPOINTMENT, meeting.id) == original_id
