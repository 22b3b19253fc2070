"""Appointments, tasks and contacts written through the API mark the interested mailboxes for ACT sync;
users' ACT sync filters are read, set and reset per record type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.model import ExchangeSyncIdMapping
from sync.model.fields import EntityRef
from sync.model.options import EntityType
from sync.store import Store
from sync.store.schema import owned_mailbox_id
from tests.integration.api.conftest import created
from tests.integration.api.test_crud import unique

pytestmark = pytest.mark.integration

START = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)


def new_user(admin: TestClient) -> str:
    user = created(admin.post("/api/users", json={"full_name": "ACT User", "internal_email_address": unique("act")}))
    return str(user["id"])


def pending(store: Store, user_id: str, record_id: str) -> ExchangeSyncIdMapping | None:
    """The pending ACT link of the record in the user's mailbox, if the CRM side marked it."""
    mailbox_id = owned_mailbox_id(EntityRef(type=EntityType.SYSTEM_USER, id=user_id))
    return next((link for link in store.act_links.pending(mailbox_id) if link.object_id == record_id), None)


def party(participation: int, user_id: str) -> dict[str, Any]:
    return {"participation": participation, "party": {"type": int(EntityType.SYSTEM_USER), "id": user_id}}


def appointment_body(organizer: str, *attendees: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Quarterly review",
        "scheduled_start": START.isoformat(),
        "scheduled_end": (START + timedelta(hours=1)).isoformat(),
        "parties": [party(7, organizer), *(party(5, a) for a in attendees)],
    }
    body.update(overrides)
    return body


# --- appointments --------------------------------------------------------------------------------------------------
def test_an_appointment_written_through_the_api_marks_its_users_mailboxes(
    admin: TestClient, isolated_store: Store
) -> None:
    organizer, attendee = new_user(admin), new_user(admin)
    appointment = created(admin.post("/api/appointments", json=appointment_body(organizer, attendee)))
    appointment_id = appointment["id"]
    for user_id in (organizer, attendee):
        link = pending(isolated_store, user_id, appointment_id)
        assert link is not None and link.object_type is EntityType.APPOINTMENT
        assert link.crm_version == appointment["version_number"] and not link.deleted_in_crm

    fetched = admin.get(f"/api/appointments/{appointment_id}")
    assert fetched.status_code == 200 and fetched.headers["ETag"] == appointment["etag"]
    assert fetched.json()["parties"][0]["party"]["id"] == organizer

    etag = fetched.headers["ETag"]
    changed = admin.patch(
        f"/api/appointments/{appointment_id}",
        json={"subject": "Moved", "parties": [party(7, organizer)]},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    version = changed.json()["version_number"]
    assert version > appointment["version_number"] and changed.json()["subject"] == "Moved"
    for user_id in (organizer, attendee):  # the removed attendee's mailbox too: there it is now a logical delete
        link = pending(isolated_store, user_id, appointment_id)
        assert link is not None and link.crm_version == version

    stale = admin.patch(f"/api/appointments/{appointment_id}", json={"subject": "Lost"}, headers={"If-Match": etag})
    assert stale.status_code == 412

    assert admin.delete(f"/api/appointments/{appointment_id}").status_code == 204
    assert admin.get(f"/api/appointments/{appointment_id}").status_code == 404
    link = pending(isolated_store, organizer, appointment_id)
    assert link is not None and link.deleted_in_crm


def test_appointments_are_listed_by_owner(admin: TestClient, reader: TestClient) -> None:
    owner = new_user(admin)
    mine = created(admin.post("/api/appointments", json=appointment_body(owner, owner_user_id=owner)))
    created(admin.post("/api/appointments", json=appointment_body(new_user(admin))))
    listed = reader.get("/api/appointments", params={"owner_user_id": owner})
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()["items"]] == [mine["id"]]
    assert reader.post("/api/appointments", json=appointment_body(owner)).status_code == 403


def test_an_invalid_appointment_is_a_422_that_says_why(admin: TestClient) -> None:
    organizer = new_user(admin)
    ends_early = appointment_body(organizer, scheduled_end=(START - timedelta(minutes=1)).isoformat())
    response = admin.post("/api/appointments", json=ends_early)
    assert response.status_code == 422
    assert "scheduled_end is before scheduled_start" in response.json()["detail"]

    unknown_owner = admin.post("/api/appointments", json=appointment_body(organizer, owner_user_id="no-such-user"))
    assert unknown_owner.status_code == 422
    assert unknown_owner.json()["errors"] == [{"field": "owner_user_id", "reason": "no user has this id"}]
    unknown_party = admin.post("/api/appointments", json=appointment_body(organizer, "no-such-user"))
    assert unknown_party.status_code == 422
    assert unknown_party.json()["errors"] == [{"field": "parties.1.party.id", "reason": "no user has this id"}]
    not_a_party = appointment_body(
        organizer, parties=[party(7, organizer), {"participation": 5, "party": {"type": 4201, "id": "x"}}]
    )
    assert admin.post("/api/appointments", json=not_a_party).json()["errors"][0]["field"] == "parties.1.party.type"
    two_organizers = appointment_body(organizer, parties=[party(7, organizer), party(7, new_user(admin))])
    assert "at most one organizer" in admin.post("/api/appointments", json=two_organizers).json()["detail"]
    sender = appointment_body(organizer, parties=[party(1, organizer)])
    assert admin.post("/api/appointments", json=sender).status_code == 422
    too_early = appointment_body(organizer, scheduled_start="1500-01-01T00:00:00Z")
    assert admin.post("/api/appointments", json=too_early).status_code == 422

    appointment = created(admin.post("/api/appointments", json=appointment_body(organizer)))
    moved = admin.patch(
        f"/api/appointments/{appointment['id']}", json={"scheduled_start": (START + timedelta(days=1)).isoformat()}
    )
    assert moved.status_code == 422 and "scheduled_end is before scheduled_start" in moved.json()["detail"]


def test_times_without_an_offset_are_utc(admin: TestClient) -> None:
    body = appointment_body(
        new_user(admin), scheduled_start="2031-05-06T09:00:00", scheduled_end="2031-05-06T10:00:00+02:00"
    )
    response = admin.post("/api/appointments", json=body)
    assert response.status_code == 422  # 08:00 UTC ends before 09:00 UTC
    body["scheduled_end"] = "2031-05-06T12:00:00+02:00"
    appointment = created(admin.post("/api/appointments", json=body))
    assert datetime.fromisoformat(appointment["scheduled_start"]) == START


# --- tasks and contacts --------------------------------------------------------------------------------------------
def test_a_task_written_through_the_api_marks_its_owners_mailbox(admin: TestClient, isolated_store: Store) -> None:
    owner, new_owner = new_user(admin), new_user(admin)
    due = (START + timedelta(days=3)).isoformat()
    task = created(
        admin.post("/api/tasks", json={"subject": "Call back", "scheduled_end": due, "owner_user_id": owner})
    )
    link = pending(isolated_store, owner, task["id"])
    assert link is not None and link.object_type is EntityType.TASK and link.crm_version == task["version_number"]
    assert [t["id"] for t in admin.get("/api/tasks", params={"owner_user_id": owner}).json()["items"]] == [task["id"]]

    etag = admin.get(f"/api/tasks/{task['id']}").headers["ETag"]
    changed = admin.patch(
        f"/api/tasks/{task['id']}",
        json={"status": 3, "percent_complete": 50, "owner_user_id": new_owner},
        headers={"If-Match": etag},
    )
    assert changed.status_code == 200, changed.text
    version = changed.json()["version_number"]
    assert version > task["version_number"]
    for user_id in (owner, new_owner):  # the old owner's mailbox drops it, the new owner's gets it
        link = pending(isolated_store, user_id, task["id"])
        assert link is not None and link.crm_version == version

    assert admin.patch(f"/api/tasks/{task['id']}", json={"status": 9}).status_code == 422
    invalid = admin.patch(
        f"/api/tasks/{task['id']}",
        json={"actual_start": START.isoformat(), "actual_end": (START - timedelta(hours=1)).isoformat()},
    )
    assert invalid.status_code == 422 and "actual_end is before actual_start" in invalid.json()["detail"]
    assert admin.patch(f"/api/tasks/{task['id']}", json={"owner_user_id": "nobody"}).status_code == 422

    assert admin.delete(f"/api/tasks/{task['id']}").status_code == 204
    assert admin.get(f"/api/tasks/{task['id']}").status_code == 404
    link = pending(isolated_store, new_owner, task["id"])
    assert link is not None and link.deleted_in_crm


def test_a_contact_written_through_the_api_marks_its_owners_mailbox(admin: TestClient, isolated_store: Store) -> None:
    owner = new_user(admin)
    address = unique("contact")
    contact = created(
        admin.post("/api/contacts", json={"last_name": "Doe", "email_address1": address, "owner_user_id": owner})
    )
    assert isolated_store.address_index.lookup(address)  # still through the record service
    link = pending(isolated_store, owner, contact["id"])
    assert link is not None and link.object_type is EntityType.CONTACT
    changed = admin.patch(f"/api/contacts/{contact['id']}", json={"job_title": "Buyer"})
    assert changed.status_code == 200, changed.text
    link = pending(isolated_store, owner, contact["id"])
    assert link is not None and link.crm_version == changed.json()["version_number"]
    assert admin.delete(f"/api/contacts/{contact['id']}").status_code == 204
    link = pending(isolated_store, owner, contact["id"])
    assert link is not None and link.deleted_in_crm
    assert not isolated_store.address_index.lookup(address)
    assert admin.post("/api/contacts", json={"last_name": "Doe", "owner_user_id": "nobody"}).status_code == 422


# --- sync filters --------------------------------------------------------------------------------------------------
def rules(response: Any) -> dict[int, tuple[int, bool]]:
    assert response.status_code == 200, response.text
    return {f["object_type"]["value"]: (f["rule"]["value"], f["is_default"]) for f in response.json()["items"]}


def test_a_users_sync_filters_show_the_defaults_and_are_set_and_reset(admin: TestClient, reader: TestClient) -> None:
    user_id = new_user(admin)
    path = f"/api/users/{user_id}/sync-filters"
    assert rules(reader.get(path)) == {4201: (2, True), 2: (1, True), 4212: (1, True)}

    assert reader.put(f"{path}/4212", json={"rule": 0}).status_code == 403
    set_ = admin.put(f"{path}/4212", json={"rule": 0, "name": "No tasks"})
    assert set_.status_code == 200, set_.text
    assert set_.json()["is_default"] is False and set_.json()["name"] == "No tasks" and set_.headers["ETag"]
    assert rules(admin.get(path)) == {4201: (2, True), 2: (1, True), 4212: (0, False)}

    one = reader.get(f"{path}/4212")
    assert one.json()["rule"]["name"] == "nothing" and one.headers["ETag"] == set_.headers["ETag"]
    changed = admin.put(f"{path}/task", json={"rule": "Party_Or_Owned"}, headers={"If-Match": one.headers["ETag"]})
    assert changed.status_code == 200 and changed.json()["rule"] == {"value": 3, "name": "party_or_owned"}
    stale = admin.put(f"{path}/4212", json={"rule": 1}, headers={"If-Match": one.headers["ETag"]})
    assert stale.status_code == 412

    assert admin.delete(f"{path}/4212").status_code == 204
    assert rules(admin.get(path)) == {4201: (2, True), 2: (1, True), 4212: (1, True)}
    assert admin.get(f"{path}/4212").json()["is_default"] is True
    assert admin.delete(f"{path}/4212").status_code == 204  # already the default


def test_sync_filters_refuse_bad_input(admin: TestClient) -> None:
    user_id = new_user(admin)
    path = f"/api/users/{user_id}/sync-filters"
    not_synced = admin.put(f"{path}/8", json={"rule": 1})
    assert not_synced.status_code == 422
    assert "does not sync" in not_synced.json()["detail"] and "4201" in not_synced.json()["detail"]
    assert admin.put(f"{path}/9999", json={"rule": 1}).status_code == 422
    assert admin.put(f"{path}/4201", json={"rule": 7}).status_code == 422
    assert admin.put(f"{path}/4201", json={"rule": 1, "extra": True}).status_code == 422
    assert admin.get("/api/users/no-such-user/sync-filters").status_code == 404
    assert admin.put("/api/users/no-such-user/sync-filters/4201", json={"rule": 1}).status_code == 404
    assert admin.delete("/api/users/no-such-user/sync-filters/4201").status_code == 404
