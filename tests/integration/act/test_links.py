"""The CRM side of ACT: every write marks the link rows of the mailboxes it concerns (real Azurite)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.act.records import ActRecords
from sync.errors import ConcurrencyConflict
from sync.model import Contact
from sync.model.act import Appointment, Task
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType
from sync.store import Store
from sync.store.schema import owned_mailbox_id

pytestmark = pytest.mark.integration

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def mailbox_of(user: str) -> str:
    return owned_mailbox_id(EntityRef(type=EntityType.SYSTEM_USER, id=user))


def attendee(user: str, role: ParticipationType = ParticipationType.REQUIRED_ATTENDEE) -> ActivityParty:
    return ActivityParty(participation=role, party=EntityRef(type=EntityType.SYSTEM_USER, id=user))


def test_a_new_appointment_is_pending_for_its_organizer_and_attendees(isolated_store: Store) -> None:
    meeting = Appointment(
        subject="Kick-off", scheduled_start=START, scheduled_end=START,
        parties=[attendee("ann", ParticipationType.ORGANIZER), attendee("ben")],
    )  # fmt: skip
    created = ActRecords(isolated_store).create(meeting)
    for user in ("ann", "ben"):
        [link] = list(isolated_store.act_links.pending(mailbox_of(user)))
        assert (link.object_type, link.object_id, link.crm_version) == (
            EntityType.APPOINTMENT, created.id, created.version_number,
        )  # fmt: skip
        assert link.exchange_entry_id is None and not link.deleted_in_crm


def test_a_user_removed_from_the_attendees_is_told_too(isolated_store: Store) -> None:
    records = ActRecords(isolated_store)
    meeting = records.create(
        Appointment(subject="Review", scheduled_start=START, scheduled_end=START, parties=[attendee("cid")])
    )
    assert isinstance(meeting, Appointment)
    link = isolated_store.act_links.find(mailbox_of("cid"), EntityType.APPOINTMENT, meeting.id)
    assert link is not None
    link.pending, link.crm_version_synced = False, link.crm_version  # as if synced
    isolated_store.act_links.save(link)
    fresh = isolated_store.appointments.get(meeting.id, "record")
    fresh.parties = []  # cid is no longer invited: a logical delete for cid's mailbox (R-ACT-4)
    updated = records.update(fresh)
    [pending] = list(isolated_store.act_links.pending(mailbox_of("cid")))
    assert pending.crm_version == updated.version_number and pending.crm_version_synced == link.crm_version


def test_deleting_a_task_marks_it_deleted_for_its_owner(isolated_store: Store) -> None:
    records = ActRecords(isolated_store)
    task = records.create(Task(subject="Call back", owner_user_id="dee"))
    records.delete(task)
    [link] = list(isolated_store.act_links.pending(mailbox_of("dee")))
    assert link.deleted_in_crm and isolated_store.tasks.find(task.id, "record") is None


def test_contacts_keep_the_address_index_and_are_pending_for_their_owner(isolated_store: Store) -> None:
    contact = ActRecords(isolated_store).create(
        Contact(last_name="Evans", email_address1="evans@fabrikam.test", owner_user_id="eve")
    )
    assert isolated_store.address_index.lookup("evans@fabrikam.test")
    assert [link.object_id for link in isolated_store.act_links.pending(mailbox_of("eve"))] == [contact.id]


def test_an_item_finds_its_record_and_a_sync_losing_a_race_with_the_crm_must_reread(isolated_store: Store) -> None:
    records = ActRecords(isolated_store)
    task = records.create(Task(subject="Quote", owner_user_id="fay"))
    links = isolated_store.act_links
    link = links.find(mailbox_of("fay"), EntityType.TASK, task.id)
    assert link is not None
    link = links.attach(link, "AAMkItem1", "CK1")
    found = links.by_item(mailbox_of("fay"), "AAMkItem1")
    assert found is not None and found.object_id == task.id
    fresh = isolated_store.tasks.get(task.id, "record")
    fresh.subject = "Quote, revised"
    records.update(fresh)  # the CRM notes a new version while the sync holds an older copy of the link
    link.pending = False
    with pytest.raises(ConcurrencyConflict):
        links.save(link)
    links.forget(links.find(mailbox_of("fay"), EntityType.TASK, task.id) or link)
    assert links.by_item(mailbox_of("fay"), "AAMkItem1") is None
