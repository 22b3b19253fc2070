"""Appointments, contacts and tasks both ways between the CRM (Azurite) and Exchange: each scenario once through
EWS (the EWS test server) and once through Microsoft Graph (the Graph test server, Exchange Online)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from azure.data.tables import TableClient

from sync.act import link_writes
from sync.act.port import crm_ref
from sync.incoming.marks import TRACKED_CATEGORY
from sync.model import Contact, ExchangeItemLookup
from sync.model.act import Appointment, FilterRule, Recurrence, RecurrenceKind, SyncFilter, Task, TaskStatus
from sync.model.options import EntityType
from tests.integration.act.conftest import SOON, ActWorld
from tests.integration.act.remote import RemoteItem

pytestmark = pytest.mark.integration

R = TypeVar("R", Appointment, Contact)


@pytest.fixture
def act(act_any: ActWorld) -> ActWorld:
    """Every test of this module runs through EWS and through Graph."""
    return act_any


def mine(act: ActWorld, records: Iterable[R]) -> list[R]:
    """The records of this test's user (the record tables outlive a test)."""
    return [r for r in records if r.owner_user_id == act.user.id]


def item(act: ActWorld, folder: str, item_id: str | None) -> RemoteItem:
    assert item_id is not None
    return next(i for i in act.remote.items(folder) if i.item_id == item_id)


def test_an_appointment_goes_to_exchange_once_and_its_changes_follow(act: ActWorld) -> None:
    meeting = act.meeting("Planning", time_zone="W. Europe Standard Time", location="Room 1")

    first = act.cycle()

    item_id = act.link(EntityType.APPOINTMENT, meeting.id)
    [created] = act.remote.items("calendar")
    assert (first.created_in_exchange, created.item_id, created.subject) == (1, item_id, "Planning")
    assert created.stamp == crm_ref(EntityType.APPOINTMENT, meeting.id)
    act.remote.reset_calls()
    assert act.cycle().changes == 0  # nothing changed: our own write does not come back as a change
    assert act.remote.creates() == act.remote.updates() == 0

    fresh = act.store.appointments.get(meeting.id, "record")
    fresh.subject = "Planning (moved)"
    act.records.update(fresh)
    assert act.cycle().updated_in_exchange == 1
    assert [i.subject for i in act.remote.items("calendar")] == ["Planning (moved)"]

    act.records.delete(act.store.appointments.get(meeting.id, "record"))
    assert act.cycle().deleted_in_exchange == 1  # Alice organizes it and it is still to come (R-ACT-8)
    assert act.remote.items("calendar") == []
    assert act.link(EntityType.APPOINTMENT, meeting.id) is None


def test_a_change_in_outlook_reaches_the_crm(act: ActWorld) -> None:
    meeting = act.meeting("Review")
    act.cycle()
    item_id = act.link(EntityType.APPOINTMENT, meeting.id)
    assert item_id is not None
    act.remote.edit(item_id, subject="Review (Outlook)", location="Room 7")

    report = act.cycle()

    stored = act.store.appointments.get(meeting.id, "record")
    assert (report.updated_in_crm, stored.subject, stored.location) == (1, "Review (Outlook)", "Room 7")


def test_both_sides_changed_the_later_writer_wins_and_the_decision_is_kept(act: ActWorld) -> None:
    meeting = act.meeting("Budget")
    act.cycle()
    item_id = act.link(EntityType.APPOINTMENT, meeting.id)
    assert item_id is not None
    fresh = act.store.appointments.get(meeting.id, "record")
    fresh.subject = "Budget (CRM)"
    act.records.update(fresh)
    time.sleep(1.1)  # Exchange keeps modification times to the second: the Outlook edit must be visibly later
    act.remote.edit(item_id, subject="Budget (Outlook)")

    report = act.cycle()

    assert report.conflicts == 1
    assert act.store.appointments.get(meeting.id, "record").subject == "Budget (Outlook)"
    link = act.store.act_links.find(act.mailbox.id, EntityType.APPOINTMENT, meeting.id)
    assert link is not None and link.last_decision == "conflict: subject<-exchange" and not link.pending


def test_an_outlook_item_with_the_tracking_category_becomes_a_crm_record(act: ActWorld) -> None:
    start = SOON + timedelta(days=1)
    act.remote.add_event("Lunch with Carol", start, start + timedelta(hours=1), [TRACKED_CATEGORY])
    act.remote.add_event("Private", start, start + timedelta(hours=1))
    act.remote.add_contact("Untracked", [TRACKED_CATEGORY])  # contacts never (R-ACT-2)

    report = act.cycle()

    assert report.created_in_crm == 1
    [tracked] = mine(act, act.store.appointments.query("subject eq @s", {"s": "Lunch with Carol"}))
    assert tracked.owner_user_id == act.user.id and act.link(EntityType.APPOINTMENT, tracked.id) is not None
    assert not mine(act, act.store.contacts.query("last_name eq @n", {"n": "Untracked"}))


def test_tasks_both_ways_and_a_delete_in_outlook_deletes_the_crm_task(act: ActWorld) -> None:
    task = act.records.create(Task(subject="Send the quote", owner_user_id=act.user.id))
    act.cycle()
    item_id = act.link(EntityType.TASK, task.id)
    assert item_id is not None
    act.remote.edit(item_id, completed="yes")
    act.cycle()
    done = act.store.tasks.get(task.id, "record")
    assert done.status is TaskStatus.COMPLETED and done.actual_end is not None  # R-ACT-18

    act.remote.delete(item_id)
    assert act.cycle().deleted_in_crm == 1
    assert act.store.tasks.find(task.id, "record") is None


def test_contacts_sync_and_a_record_that_went_without_notice_is_unlinked(act: ActWorld) -> None:
    contact = act.records.create(
        Contact(first_name="Carol", last_name="Clark", email_address1="carol@fabrikam.test", owner_user_id=act.user.id)
    )
    act.cycle()
    item_id = act.link(EntityType.CONTACT, contact.id)
    assert item_id is not None
    act.store.contacts.delete(act.store.contacts.get(contact.id, "record"), if_unchanged=False)  # no note
    act.remote.edit(item_id, job_title="Buyer")

    report = act.cycle()  # the link's record is missing: nothing to sync, the link goes

    assert report.item_errors == 0 and act.link(EntityType.CONTACT, contact.id) is None


def test_a_crash_after_exchange_created_the_item_leaves_no_duplicate(
    act: ActWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link is written before CreateItem and the item carries the record: the next pull attaches it."""

    class Crash(BaseException):
        pass

    meeting = act.meeting("Crash test")
    original = link_writes.write_rows

    def dies_attaching(table: TableClient, rows: Sequence[link_writes.Row]) -> None:
        if any(isinstance(row, ExchangeItemLookup) for row in rows):  # the write that links the created items
            raise Crash
        original(table, rows)

    monkeypatch.setattr(link_writes, "write_rows", dies_attaching)
    with pytest.raises(Crash):
        act.cycle()
    monkeypatch.setattr(link_writes, "write_rows", original)
    assert len(act.remote.items("calendar")) == 1 and act.link(EntityType.APPOINTMENT, meeting.id) is None

    report = act.cycle()

    assert report.created_in_exchange == 0 and len(act.remote.items("calendar")) == 1
    assert act.link(EntityType.APPOINTMENT, meeting.id) == act.remote.items("calendar")[0].item_id


def test_time_zones_and_a_weekly_series_survive_the_round_trip(act: ActWorld) -> None:
    series = Recurrence(kind=RecurrenceKind.WEEKLY, weekdays=[1, 3], start=SOON.date(), occurrences=6)
    meeting = act.meeting("Stand-up", time_zone="Pacific Standard Time", recurrence=series)
    act.cycle()
    item_id = act.link(EntityType.APPOINTMENT, meeting.id)
    assert item_id is not None
    act.remote.edit(item_id, body="Agenda in the invite")

    act.cycle()

    stored = act.store.appointments.get(meeting.id, "record")
    assert stored.time_zone == "Pacific Standard Time"
    assert stored.recurrence == series
    assert stored.scheduled_start == SOON and stored.description == "Agenda in the invite"


def test_a_record_the_user_no_longer_attends_leaves_the_mailbox(act: ActWorld) -> None:
    meeting = act.meeting("Offsite")
    act.cycle()
    fresh = act.store.appointments.get(meeting.id, "record")
    fresh.parties = []  # Alice is no longer the organizer: the filter stops selecting it (R-ACT-4)
    act.records.update(fresh)

    act.cycle()

    assert act.link(EntityType.APPOINTMENT, meeting.id) is None
    assert isinstance(act.store.appointments.find(meeting.id, "record"), Appointment)
    assert datetime.now(UTC) < SOON


def test_an_item_exchange_fails_on_is_retried_five_times_then_waits_for_a_new_version(act: ActWorld) -> None:
    refused = act.records.create(Task(subject="Refused", owner_user_id=act.user.id))
    act.remote.fail_next_create("tasks", 500, count=5)  # Exchange fails on this one item
    for attempt in range(1, 6):
        report = act.cycle()
        assert report.item_errors == 1, attempt
    link = act.store.act_links.find(act.mailbox.id, EntityType.TASK, refused.id)
    assert link is not None and link.retries == 5 and "500" in (link.last_sync_error or "")
    act.remote.reset_calls()
    assert act.cycle().item_errors == 0 and act.remote.creates() == 0  # left alone at this version

    fine = act.records.create(Task(subject="Fine", owner_user_id=act.user.id))
    fresh = act.store.tasks.get(refused.id, "record")
    fresh.subject = "Refused, fixed"
    act.records.update(fresh)  # a new version: tried again
    act.remote.reset_calls()
    report = act.cycle()
    assert report.created_in_exchange == 2
    assert act.link(EntityType.TASK, fine.id) and act.link(EntityType.TASK, refused.id)


def test_a_tracked_appointment_that_overlaps_waits_for_the_users_decision(act: ActWorld) -> None:
    act.meeting("Board meeting")  # Alice is busy at SOON for an hour
    act.cycle()
    overlap = act.remote.add_event(
        "Dentist", SOON + timedelta(minutes=30), SOON + timedelta(minutes=90), [TRACKED_CATEGORY]
    )

    report = act.cycle()

    assert (report.created_in_crm, report.conflicts_held) == (0, 1)  # R-ACT-11: not saved
    alerts = list(act.store.alerts.query("mailbox_id eq @m", {"m": act.mailbox.id}))
    assert [a.code_name for a in alerts] == ["ExchangeSyncSchedulingConflictsError"]
    assert "Dentist" in alerts[0].text and "save anyway" in alerts[0].text
    [conflict] = list(act.store.act_links.conflicts_of(act.mailbox.id))
    conflict.decision = True  # the user says: save anyway (R-ACT-24)
    act.store.act_links.conflicts.update(conflict)

    assert act.cycle().created_in_crm == 1
    [dentist] = mine(act, act.store.appointments.query("subject eq 'Dentist'", {}))
    assert act.link(EntityType.APPOINTMENT, dentist.id) == overlap


def test_a_narrower_filter_takes_records_out_of_the_mailbox(act: ActWorld) -> None:
    task = act.records.create(Task(subject="Old habit", owner_user_id=act.user.id))
    act.cycle()
    assert act.link(EntityType.TASK, task.id) is not None
    act.store.sync_filters.insert(SyncFilter(user_id=act.user.id, object_type=EntityType.TASK, rule=FilterRule.NOTHING))
    mailbox_id = act.mailbox.id
    for link in list(act.store.act_links.of_type(mailbox_id, EntityType.TASK)):  # what the filter API does
        act.store.act_links.note_change(mailbox_id, EntityType.TASK, link.object_id, link.crm_version)

    report = act.cycle()

    assert report.deleted_in_exchange == 1 and act.remote.items("tasks") == []
    assert act.store.tasks.find(task.id, "record") is not None  # the CRM keeps it


def test_contact_edits_flow_both_ways_and_an_outlook_delete_of_my_meeting_deletes_it(act: ActWorld) -> None:
    contact = act.records.create(
        Contact(last_name="Lee", email_address1="lee@fabrikam.test", owner_user_id=act.user.id)
    )
    meeting = act.meeting("Kick-off")
    act.cycle()
    contact_item, meeting_item = act.link(EntityType.CONTACT, contact.id), act.link(EntityType.APPOINTMENT, meeting.id)
    assert contact_item is not None and meeting_item is not None

    fresh = act.store.contacts.get(contact.id, "record")
    assert isinstance(fresh, Contact)
    fresh.job_title = "Buyer"
    act.records.update(fresh)
    act.cycle()
    assert item(act, "contacts", contact_item).job_title == "Buyer"

    act.remote.edit(contact_item, job_title="Head of buying")
    act.remote.delete(meeting_item)  # Alice organizes it and it is still to come (R-ACT-12)
    report = act.cycle()

    stored = act.store.contacts.get(contact.id, "record")
    assert isinstance(stored, Contact) and stored.job_title == "Head of buying"
    assert report.deleted_in_crm == 1 and act.store.appointments.find(meeting.id, "record") is None
