"""DeliverIncomingEmail, DeliverPromoteEmail and CheckPromoteEmail through the API (R-REC-12), on Azurite."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from sync.store import Store
from tests.integration.api.conftest import created
from tests.integration.incoming.conftest import message

pytestmark = pytest.mark.integration

SYSTEM = {"type": "systemuser", "id": "system"}


def new_user(admin: TestClient, filtering: int) -> tuple[str, str, str]:
    """A user with a mailbox (no mail server needed: messages are handed in); returns user, mailbox, address."""
    address = f"pr-{uuid.uuid4().hex[:10]}@example.test"
    user = created(admin.post("/api/users", json={"full_name": f"User {address}", "internal_email_address": address}))
    assert admin.patch(f"/api/users/{user['id']}", json={"incoming_filtering_method": filtering}).status_code == 200
    return str(user["id"]), str(user["default_mailbox_id"]), address


def new_account(admin: TestClient) -> dict[str, str]:
    account = created(admin.post("/api/accounts", json={"name": f"Fabrikam {uuid.uuid4().hex[:6]}"}))
    return {"type": "account", "id": str(account["id"])}


def test_r_rec_12_a_promoted_message_is_tracked_once_as_the_user_with_the_regarding_record(
    admin: TestClient, reader: TestClient
) -> None:
    user_id, mailbox_id, address = new_user(admin, filtering=1)  # responses to CRM email only
    raw, message_id = message(address, subject=f"Offer {uuid.uuid4().hex[:6]}")
    account = new_account(admin)
    automatic = admin.post(f"/api/mailboxes/{mailbox_id}/deliver-incoming", json={"mime": raw.decode()}).json()
    assert (automatic["tracked"], automatic["reason"]) == (False, "NoCorrelationMatch")  # filtering says no
    check = reader.post("/api/emails/check-promote", json={"message_id": f"<{message_id}>"}).json()
    assert (check["should_promote"], check["email_id"]) == (True, None)

    promoted = admin.post("/api/emails/promote", json={"user_id": user_id, "mime": raw.decode(), "regarding": account})

    assert promoted.status_code == 201, promoted.text
    result = promoted.json()
    assert (result["created"], result["reason"]) == (True, "Promoted")
    email = admin.get(f"/api/emails/{result['email_id']}").json()
    user = {"type": "systemuser", "id": user_id}
    assert (email["created_by"], email["modified_by"], email["regarding"]) == (user, user, account)
    again = admin.post("/api/emails/promote", json={"user_id": user_id, "mime": raw.decode()})
    assert again.status_code == 200 and again.json()["email_id"] == result["email_id"]
    assert again.json()["created"] is False
    check = reader.post("/api/emails/check-promote", json={"message_id": message_id}).json()
    assert (check["should_promote"], check["email_id"]) == (False, result["email_id"])


def test_r_rec_12_automatic_tracking_creates_as_system_and_a_later_promote_keeps_the_one_email(
    admin: TestClient, isolated_store: Store
) -> None:
    _, mailbox_id, address = new_user(admin, filtering=0)  # all email
    bob_id, _, bob_address = new_user(admin, filtering=1)
    raw, _ = message(f"{address}, {bob_address}", subject=f"Order {uuid.uuid4().hex[:6]}")
    delivered = admin.post(f"/api/mailboxes/{mailbox_id}/deliver-incoming", json={"mime": raw.decode()})
    assert delivered.status_code == 200, delivered.text
    assert (delivered.json()["created"], delivered.json()["reason"]) == (True, "AcceptAll")
    email_id = delivered.json()["email_id"]
    email = admin.get(f"/api/emails/{email_id}").json()
    assert (email["created_by"], email["modified_by"], email["regarding"]) == (SYSTEM, SYSTEM, None)
    account = new_account(admin)

    promoted = admin.post("/api/emails/promote", json={"user_id": bob_id, "mime": raw.decode(), "regarding": account})

    assert promoted.status_code == 200, promoted.text  # tracked already: the same exactly-once key
    assert (promoted.json()["email_id"], promoted.json()["created"]) == (email_id, False)
    email = admin.get(f"/api/emails/{email_id}").json()
    bob = {"type": "systemuser", "id": bob_id}
    assert (email["created_by"], email["modified_by"], email["regarding"]) == (SYSTEM, bob, account)
    assert len(list(isolated_store.emails.query("message_id eq @m", {"m": email["message_id"]}))) == 1


def test_promote_refuses_an_unknown_user_or_regarding_record(admin: TestClient) -> None:
    user_id, _, address = new_user(admin, filtering=1)
    raw, _ = message(address)
    assert admin.post("/api/emails/promote", json={"user_id": "nobody", "mime": raw.decode()}).status_code == 404
    nowhere = {"type": "contact", "id": "nobody"}
    refused = admin.post("/api/emails/promote", json={"user_id": user_id, "mime": raw.decode(), "regarding": nowhere})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "regarding.id"
    assert admin.post("/api/emails/check-promote", json={"message_id": "   "}).status_code == 422
