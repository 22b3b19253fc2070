"""CRUD routes against real Azurite: list (paged, filtered), get, create, update, delete, and their errors."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from sync.model.fields import EntityRef
from sync.model.options import EntityType
from sync.store import Store
from sync.store.schema import owned_mailbox_id
from tests.integration.api.conftest import created

pytestmark = pytest.mark.integration


def unique(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


def profile_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "IMAP profile",
        "server_type": 4,
        "incoming_server_location": "imap.example.test",
    }
    body.update(overrides)
    return body


# --- profiles and secrets ------------------------------------------------------------------------------------------
def test_a_profile_round_trips_without_ever_returning_its_passwords(admin: TestClient, isolated_store: Store) -> None:
    body = created(admin.post("/api/profiles", json=profile_body(incoming_password="hunter2", incoming_username="svc")))
    assert body["incoming_password_is_set"] is True
    assert body["outgoing_password_is_set"] is False
    assert "incoming_password" not in body and "hunter2" not in str(body)
    stored = isolated_store.get_profile(body["id"])
    assert stored.incoming_password is not None and stored.incoming_password.startswith("aesgcm1:")

    fetched = admin.get(f"/api/profiles/{body['id']}")
    assert fetched.status_code == 200 and fetched.headers["ETag"]
    assert "hunter2" not in fetched.text and fetched.json()["incoming_password_is_set"] is True

    cleared = admin.patch(f"/api/profiles/{body['id']}", json={"incoming_password": None, "name": "Renamed"})
    assert cleared.status_code == 200
    assert cleared.json()["incoming_password_is_set"] is False and cleared.json()["name"] == "Renamed"


def test_listing_profiles_pages_and_filters(admin: TestClient) -> None:
    for n in range(3):
        created(admin.post("/api/profiles", json=profile_body(name=f"POP {n}", server_type=1)))
    first = admin.get("/api/profiles", params={"page_size": 2, "server_type": 1})
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) <= 2
    seen = [p["id"] for p in page["items"]]
    while page["continuation"]:
        page = admin.get(
            "/api/profiles", params={"page_size": 2, "server_type": 1, "continuation": page["continuation"]}
        ).json()
        seen += [p["id"] for p in page["items"]]
    assert len(seen) == len(set(seen)) >= 3
    assert all(
        p["server_type"]["value"] == 1 for p in admin.get("/api/profiles", params={"server_type": 1}).json()["items"]
    )


def test_a_bad_continuation_token_is_a_400(admin: TestClient) -> None:
    response = admin.get("/api/profiles", params={"continuation": "not-a-token"})
    assert response.status_code == 400
    assert "continuation" in response.json()["detail"]


def test_validation_errors_name_the_field_and_never_echo_the_input(admin: TestClient) -> None:
    response = admin.post("/api/profiles", json=profile_body(name="n" * 101, incoming_password="p" * 300))
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"body.name", "body.incoming_password"} <= fields
    assert "ppppp" not in response.text


def test_unknown_and_read_only_fields_are_refused(admin: TestClient) -> None:
    response = admin.post("/api/profiles", json=profile_body(incoming_password_is_set=True))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.incoming_password_is_set"
    profile = created(admin.post("/api/profiles", json=profile_body()))
    response = admin.patch(f"/api/profiles/{profile['id']}", json={"last_test_execution_status": 1})
    assert response.status_code == 422


def test_model_rules_answer_422_with_the_reason(admin: TestClient) -> None:
    response = admin.post("/api/profiles", json=profile_body(incoming_tls=2))  # plaintext without allow_plaintext
    assert response.status_code == 422
    assert "allow_plaintext" in response.json()["detail"]


def test_a_stale_if_match_is_a_412_and_a_missing_record_a_404(admin: TestClient) -> None:
    profile = created(admin.post("/api/profiles", json=profile_body()))
    etag = profile["etag"]
    assert (
        admin.patch(f"/api/profiles/{profile['id']}", json={"name": "A"}, headers={"If-Match": etag}).status_code == 200
    )
    stale = admin.patch(f"/api/profiles/{profile['id']}", json={"name": "B"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert admin.get("/api/profiles/does-not-exist").status_code == 404
    assert admin.delete("/api/profiles/does-not-exist").status_code == 404


def test_a_profile_that_mailboxes_use_is_not_deleted(admin: TestClient, isolated_store: Store) -> None:
    profile = created(admin.post("/api/profiles", json=profile_body()))
    other = created(admin.post("/api/profiles", json=profile_body(name="Other")))
    mailbox = created(
        admin.post(
            "/api/mailboxes",
            json={"name": "Fwd box", "email_address": unique("fwd"), "email_server_profile_id": profile["id"]},
        )
    )
    refused = admin.delete(f"/api/profiles/{profile['id']}")
    assert refused.status_code == 409
    assert "Fwd box" in refused.json()["detail"] and mailbox["id"] in refused.json()["detail"]
    assert isolated_store.get_mailbox(mailbox["id"]).email_server_profile_id == profile["id"]  # nothing changed

    moved = admin.patch(f"/api/mailboxes/{mailbox['id']}", json={"email_server_profile_id": other["id"]})
    assert moved.status_code == 200, moved.text
    assert admin.delete(f"/api/profiles/{profile['id']}").status_code == 204
    assert admin.get(f"/api/profiles/{profile['id']}").status_code == 404


def test_the_organizations_default_profile_is_not_deleted(admin: TestClient) -> None:
    profile = created(admin.post("/api/profiles", json=profile_body()))
    assert admin.patch("/api/organization", json={"default_email_server_profile_id": profile["id"]}).status_code == 200
    refused = admin.delete(f"/api/profiles/{profile['id']}")
    assert refused.status_code == 409 and "default_email_server_profile_id" in refused.json()["detail"]
    assert admin.patch("/api/organization", json={"default_email_server_profile_id": None}).status_code == 200
    assert admin.delete(f"/api/profiles/{profile['id']}").status_code == 204


def test_r_te_7_the_organization_id_is_shown_and_read_only(admin: TestClient) -> None:
    assert "organization_id" in admin.get("/api/organization").json()
    assert admin.patch("/api/organization", json={"organization_id": "someone-else"}).status_code == 422


def test_r_act_9_the_meeting_settings_are_off_by_default_and_patched(admin: TestClient) -> None:
    names = ("propagate_appointment_cancellations_to_exchange", "update_past_meetings_in_exchange")
    assert [admin.get("/api/organization").json()[n] for n in names] == [False, False]  # Dynamics' defaults
    assert admin.patch("/api/organization", json=dict.fromkeys(names, True)).status_code == 200
    assert [admin.get("/api/organization").json()[n] for n in names] == [True, True]
    assert admin.patch("/api/organization", json=dict.fromkeys(names, False)).status_code == 200


def test_a_default_profile_that_does_not_exist_is_refused(admin: TestClient) -> None:
    refused = admin.patch("/api/organization", json={"default_email_server_profile_id": "no-such-profile"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "default_email_server_profile_id", "reason": "no email server profile has this id"}
    ]


# --- organization --------------------------------------------------------------------------------------------------
def test_organization_settings_are_read_and_patched(admin: TestClient) -> None:
    assert admin.get("/api/organization").json()["tracking_prefix"]
    changed = admin.patch(
        "/api/organization", json={"tracking_prefix": "SYNC", "require_approval_for_queue_email": False}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["tracking_prefix"] == "SYNC" and "CRM" in body["tracking_prefix_history"]
    assert admin.patch("/api/organization", json={"tracking_prefix": "has space"}).status_code == 422
    assert admin.patch("/api/organization", json={"next_tracking_number": 5}).status_code == 422
    assert admin.patch("/api/organization", json={"require_approval_for_queue_email": True}).status_code == 200


# --- users, queues and their mailboxes -----------------------------------------------------------------------------
def test_creating_a_user_creates_its_mailbox_and_address_changes_follow(
    admin: TestClient, isolated_store: Store
) -> None:
    address = unique("user")
    user = created(
        admin.post(
            "/api/users",
            json={"full_name": "Ann Lee", "internal_email_address": address, "incoming_filtering_method": 0},
        )
    )
    assert user["incoming_filtering_method"] == {"value": 0, "name": "all_email"}
    mailbox_id = owned_mailbox_id(EntityRef(type=EntityType.SYSTEM_USER, id=user["id"]))
    assert user["default_mailbox_id"] == mailbox_id
    assert admin.get(f"/api/mailboxes/{mailbox_id}").json()["email_address"] == address
    assert isolated_store.address_index.lookup(address)

    new_address = unique("moved")
    moved = admin.patch(f"/api/users/{user['id']}", json={"internal_email_address": new_address, "full_name": "Ann B"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["full_name"] == "Ann B"
    mailbox = admin.get(f"/api/mailboxes/{mailbox_id}").json()
    assert (
        mailbox["email_address"] == new_address and mailbox["approval"]["name"] == "pending_approval"
    )  # back to Pending Approval
    assert not isolated_store.address_index.lookup(address)

    deactivated = admin.patch(f"/api/users/{user['id']}", json={"state": 1})
    assert deactivated.json()["state"] == {"value": 1, "name": "inactive"}
    assert admin.get(f"/api/mailboxes/{mailbox_id}").json()["state"]["value"] == 1  # R-PROV-15

    assert admin.delete(f"/api/users/{user['id']}").status_code == 204
    assert admin.get(f"/api/users/{user['id']}").status_code == 404
    assert admin.get(f"/api/mailboxes/{mailbox_id}").status_code == 404


def test_a_user_changed_or_deleted_through_the_api_is_seen_at_once_by_its_email_routes(admin: TestClient) -> None:
    """The email routes keep the From user cached; this instance's own writes of it replace the cached copy."""
    user = created(admin.post("/api/users", json={"full_name": "Cal Ho", "internal_email_address": unique("cal")}))
    contact = created(admin.post("/api/contacts", json={"last_name": "Roe", "email_address1": unique("roe")}))
    email = {
        "from": {"type": "systemuser", "id": user["id"]},
        "to": [{"type": "contact", "id": contact["id"]}],
        "subject": "Hello",
        "send": True,
    }
    assert admin.post("/api/emails", json=email).status_code == 201  # the user is now cached
    assert admin.patch(f"/api/users/{user['id']}", json={"state": 1}).status_code == 200
    refused = admin.post("/api/emails", json=email)
    assert refused.status_code == 422 and "is not active" in refused.text
    assert admin.delete(f"/api/users/{user['id']}").status_code == 204
    gone = admin.post("/api/emails", json=email)
    assert gone.status_code == 422 and f"no systemuser {user['id']}" in gone.text


def test_user_filters(admin: TestClient) -> None:
    created(
        admin.post(
            "/api/users",
            json={"full_name": "Filter Me", "internal_email_address": unique("f"), "incoming_filtering_method": 3},
        )
    )
    items = admin.get("/api/users", params={"incoming_filtering_method": 3}).json()["items"]
    assert items and all(u["incoming_filtering_method"]["value"] == 3 for u in items)
    assert admin.get("/api/users", params={"incoming_filtering_method": 9}).status_code == 422


def test_queues_come_with_a_mailbox_that_cannot_be_deleted_alone(admin: TestClient) -> None:
    queue = created(admin.post("/api/queues", json={"name": "Support", "email_address": unique("support")}))
    mailbox_id = queue["default_mailbox_id"]
    refused = admin.delete(f"/api/mailboxes/{mailbox_id}")
    assert refused.status_code == 409 and "owner" in refused.json()["detail"]
    renamed = admin.patch(f"/api/queues/{queue['id']}", json={"email_address": unique("help"), "name": "Help"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Help"
    assert admin.get(f"/api/mailboxes/{mailbox_id}").json()["email_address"] == renamed.json()["email_address"]
    assert admin.delete(f"/api/queues/{queue['id']}").status_code == 204


def test_a_second_record_with_the_same_id_is_a_409(admin: TestClient) -> None:
    contact = created(admin.post("/api/contacts", json={"last_name": "Doe"}))
    assert contact["id"]
    response = admin.post("/api/contacts", json={"last_name": "Doe", "id": contact["id"]})
    assert response.status_code == 422  # ids are the service's to choose


def test_forward_mailboxes_are_created_updated_and_deleted(admin: TestClient) -> None:
    profile = created(admin.post("/api/profiles", json=profile_body()))
    body = {"name": "Forward", "email_address": unique("fwd"), "email_server_profile_id": profile["id"]}
    mailbox = created(admin.post("/api/mailboxes", json=body))
    assert mailbox["is_forward_mailbox"] is True and mailbox["outgoing_method"]["name"] == "none"
    assert "watermarks" not in mailbox and mailbox["password_is_set"] is False
    missing = admin.post("/api/mailboxes", json={**body, "email_server_profile_id": "nope"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "email_server_profile_id"
    changed = admin.patch(f"/api/mailboxes/{mailbox['id']}", json={"password": "s3cret", "username": "fwd"})
    assert changed.json()["password_is_set"] is True and "s3cret" not in changed.text
    assert admin.patch(f"/api/mailboxes/{mailbox['id']}", json={"outgoing_method": 2}).status_code == 422
    assert admin.patch(f"/api/mailboxes/{mailbox['id']}", json={"incoming_status": 1}).status_code == 422
    listed = admin.get("/api/mailboxes", params={"is_forward_mailbox": True}).json()["items"]
    assert mailbox["id"] in {m["id"] for m in listed}
    assert admin.delete(f"/api/mailboxes/{mailbox['id']}").status_code == 204


def test_accounts_and_leads_keep_the_address_index(admin: TestClient, isolated_store: Store) -> None:
    address = unique("acct")
    account = created(admin.post("/api/accounts", json={"name": "Fabrikam", "email_address1": address}))
    assert isolated_store.address_index.lookup(address)
    lead = created(admin.post("/api/leads", json={"last_name": "Lead", "email_address1": unique("lead")}))
    assert admin.patch(f"/api/leads/{lead['id']}", json={"company_name": "Contoso"}).json()["company_name"] == "Contoso"
    assert admin.delete(f"/api/accounts/{account['id']}").status_code == 204
    assert not isolated_store.address_index.lookup(address)
    assert admin.get("/api/leads", params={"state": 0}).status_code == 200


# --- tracking folders and emails ----------------------------------------------------------------------------------
def test_tracking_folders_of_a_user_mailbox(admin: TestClient) -> None:
    user = created(admin.post("/api/users", json={"full_name": "Folder User", "internal_email_address": unique("fu")}))
    path = f"/api/mailboxes/{user['default_mailbox_id']}/tracking-folders"
    assert admin.post(path, json={"exchange_folder_id": "AAMk1"}).status_code == 422  # no Exchange profile (R-FLT-1)
    exchange = created(admin.post("/api/profiles", json=profile_body(name="Exchange", server_type=0)))
    mailbox = admin.get(f"/api/mailboxes/{user['default_mailbox_id']}")
    changed = admin.patch(
        f"/api/mailboxes/{user['default_mailbox_id']}",
        json={"email_server_profile_id": exchange["id"]},
        headers={"If-Match": mailbox.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    folder = created(admin.post(path, json={"exchange_folder_id": "AAMk1", "exchange_folder_name": "Deals"}))
    assert folder["folder_onboarding_status"] == {"value": 0, "name": "not_checked"}
    assert admin.post(path, json={"exchange_folder_id": "AAMk1"}).status_code == 422  # tracked already
    assert [f["id"] for f in admin.get(path).json()["items"]] == [folder["id"]]
    assert admin.patch(f"{path}/{folder['id']}", json={"is_enabled": False}).json()["is_enabled"] is False
    assert admin.patch(f"{path}/{folder['id']}", json={"exchange_folder_id": "other"}).status_code == 422
    assert admin.delete(f"{path}/{folder['id']}").status_code == 204
    assert admin.get(f"{path}/{folder['id']}").status_code == 404
    queue = created(admin.post("/api/queues", json={"name": "Q", "email_address": unique("q")}))
    refused = admin.post(
        f"/api/mailboxes/{queue['default_mailbox_id']}/tracking-folders", json={"exchange_folder_id": "x"}
    )
    assert refused.status_code == 422


def test_a_mailbox_tracks_at_most_the_organizations_cap_of_folders(admin: TestClient) -> None:
    """R-FLT-3: 25 folder rules per mailbox by default; one more is refused and names the cap."""
    user = created(admin.post("/api/users", json={"full_name": "Many Folders", "internal_email_address": unique("mf")}))
    exchange = created(admin.post("/api/profiles", json=profile_body(name="Exchange cap", server_type=0)))
    mailbox_path = f"/api/mailboxes/{user['default_mailbox_id']}"
    etag = admin.get(mailbox_path).headers["ETag"]
    moved = admin.patch(mailbox_path, json={"email_server_profile_id": exchange["id"]}, headers={"If-Match": etag})
    assert moved.status_code == 200, moved.text
    cap = admin.get("/api/organization").json()["max_folder_based_tracking_mappings"]  # 25 unless lowered
    for number in range(cap):
        created(admin.post(f"{mailbox_path}/tracking-folders", json={"exchange_folder_id": f"AAMk{number}"}))

    refused = admin.post(f"{mailbox_path}/tracking-folders", json={"exchange_folder_id": "AAMk-one-more"})

    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"field": "exchange_folder_id", "reason": "a mailbox tracks at most 25 folders"}
    ]


def test_emails_are_listed_and_read(admin: TestClient, isolated_store: Store) -> None:
    from sync.model import Email  # noqa: PLC0415
    from sync.model.options import EmailDirection  # noqa: PLC0415

    email = isolated_store.emails.insert(
        Email(subject="Hello", direction=EmailDirection.INCOMING, receiving_mailbox_id="mbx-1")
    )
    listed = admin.get("/api/emails", params={"receiving_mailbox_id": "mbx-1"}).json()["items"]
    assert [e["id"] for e in listed] == [email.id]
    assert admin.get(f"/api/emails/{email.id}").json()["subject"] == "Hello"
    assert admin.patch(f"/api/emails/{email.id}", json={"subject": "x"}).status_code == 405


def test_a_contacts_parent_account_must_exist(admin: TestClient) -> None:
    refused = admin.post("/api/contacts", json={"last_name": "Orphan", "parent_account_id": "no-such-account"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "parent_account_id", "reason": "no account has this id"}]
    account = created(admin.post("/api/accounts", json={"name": "Fabrikam"}))
    contact = created(admin.post("/api/contacts", json={"last_name": "Child", "parent_account_id": account["id"]}))
    moved = admin.patch(f"/api/contacts/{contact['id']}", json={"parent_account_id": "gone"})
    assert moved.status_code == 422
    assert admin.get(f"/api/contacts/{contact['id']}").json()["parent_account_id"] == account["id"]
