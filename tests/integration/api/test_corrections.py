"""Corrections through the API: an email's regarding record (R-FLT-6) and an unresolved party's record (R-RES-7)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.integration.api.conftest import created
from tests.integration.api.test_promote import new_account, new_user
from tests.integration.incoming.conftest import message

pytestmark = pytest.mark.integration


@pytest.fixture
def similar_off(admin: TestClient) -> Iterator[None]:
    """The organization's resolve_similar_unresolved_email_address turned off for one test."""
    assert admin.patch("/api/organization", json={"resolve_similar_unresolved_email_address": False}).is_success
    yield
    assert admin.patch("/api/organization", json={"resolve_similar_unresolved_email_address": True}).is_success


def tracked_from(admin: TestClient, mailbox_id: str, address: str, sender: str) -> str:
    """An email from ``sender`` tracked by the mailbox (the user accepts all email)."""
    raw, _ = message(address, sender=sender, subject=f"Note {uuid.uuid4().hex[:6]}")
    delivered = admin.post(f"/api/mailboxes/{mailbox_id}/deliver-incoming", json={"mime": raw.decode()}).json()
    assert delivered["created"] is True, delivered
    return str(delivered["email_id"])


def sender_of(admin: TestClient, email_id: str) -> dict[str, object]:
    email = admin.get(f"/api/emails/{email_id}").json()
    [sender] = [p for p in email["parties"] if p["participation"]["name"] == "sender"]
    return dict(sender)


def stranger() -> str:
    return f"stranger-{uuid.uuid4().hex[:8]}@fabrikam.test"


def test_r_res_7_resolving_an_address_resolves_it_on_the_other_emails_too(admin: TestClient) -> None:
    user_id, mailbox_id, address = new_user(admin, filtering=0)
    who = stranger()
    first, second = tracked_from(admin, mailbox_id, address, who), tracked_from(admin, mailbox_id, address, who)
    assert sender_of(admin, first)["party"] is None and sender_of(admin, second)["party"] is None
    contact = created(admin.post("/api/contacts", json={"last_name": "Stranger", "email_address1": who}))
    record = {"type": "contact", "id": contact["id"]}

    resolved = admin.post(
        f"/api/emails/{first}/resolve", json={"address": who.upper(), "record": record, "user_id": user_id}
    )

    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["also_resolved_email_ids"] == [second]
    for email_id in (first, second):
        assert sender_of(admin, email_id)["party"] == record
        assert admin.get(f"/api/emails/{email_id}").json()["modified_by"] == {"type": "systemuser", "id": user_id}
    again = admin.post(f"/api/emails/{second}/resolve", json={"address": who, "record": record})
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "address"  # nothing left unresolved


def test_r_res_7_with_the_option_off_only_the_email_corrected_changes(admin: TestClient, similar_off: None) -> None:
    _, mailbox_id, address = new_user(admin, filtering=0)
    who = stranger()
    first, second = tracked_from(admin, mailbox_id, address, who), tracked_from(admin, mailbox_id, address, who)
    contact = created(admin.post("/api/contacts", json={"last_name": "Stranger", "email_address1": who}))
    record = {"type": "contact", "id": contact["id"]}

    resolved = admin.post(f"/api/emails/{first}/resolve", json={"address": who, "record": record})

    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["also_resolved_email_ids"] == []
    assert (sender_of(admin, first)["party"], sender_of(admin, second)["party"]) == (record, None)


def test_r_flt_6_an_administrator_sets_changes_and_clears_an_emails_regarding_record(admin: TestClient) -> None:
    user_id, mailbox_id, address = new_user(admin, filtering=0)
    email_id = tracked_from(admin, mailbox_id, address, stranger())
    account = new_account(admin)

    changed = admin.put(f"/api/emails/{email_id}/regarding", json={"regarding": account, "user_id": user_id})

    assert changed.status_code == 200, changed.text
    email = admin.get(f"/api/emails/{email_id}").json()
    assert (email["regarding"], email["modified_by"]) == (account, {"type": "systemuser", "id": user_id})
    assert email["created_by"] == {"type": "systemuser", "id": "system"}
    cleared = admin.put(f"/api/emails/{email_id}/regarding", json={"regarding": None})
    assert cleared.status_code == 200 and cleared.json()["regarding"] is None
    nowhere = {"type": "account", "id": "nobody"}
    refused = admin.put(f"/api/emails/{email_id}/regarding", json={"regarding": nowhere})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "regarding.id"
    assert admin.put("/api/emails/nope/regarding", json={"regarding": None}).status_code == 404
    unknown_user = admin.put(f"/api/emails/{email_id}/regarding", json={"regarding": None, "user_id": "nobody"})
    assert unknown_user.status_code == 422 and unknown_user.json()["errors"][0]["field"] == "user_id"
