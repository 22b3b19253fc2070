"""CheckIncomingEmail through the API: the decision and reason for a message, and nothing is stored."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from sync.store import Store
from tests.integration.api.conftest import MailWorld, created
from tests.integration.incoming.conftest import message

pytestmark = pytest.mark.integration


def count(store: Store) -> tuple[int, int]:
    return len(list(store.emails.query())), len(list(store.item_failures.query()))


def test_the_decision_is_returned_and_nothing_is_created(
    admin: TestClient, reader: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    address = str(isolated_store.get_mailbox(mailbox_id).email_address)
    user_id = isolated_store.get_mailbox(mailbox_id).owner.id  # type: ignore[union-attr]
    created(admin.post("/api/contacts", json={"last_name": "Known", "email_address1": "known@fabrikam.test"}))
    before = count(isolated_store)

    admin.patch(f"/api/users/{user_id}", json={"incoming_filtering_method": 1})  # responses to CRM email only
    raw, _ = message(address, sender="known@fabrikam.test")
    answer = reader.post(f"/api/mailboxes/{mailbox_id}/check-incoming", json={"mime": raw.decode()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["reason"] == "NoCorrelationMatch" and answer.json()["would_be_tracked"] is False

    admin.patch(f"/api/users/{user_id}", json={"incoming_filtering_method": 0})  # all email
    encoded = base64.b64encode(raw).decode()
    accepted = reader.post(f"/api/mailboxes/{mailbox_id}/check-incoming", json={"mime_base64": encoded}).json()
    assert accepted["would_be_tracked"] is True and accepted["reason"] == "AcceptAll"
    assert accepted["accepting_entity"] == {"type": "systemuser", "id": user_id}

    looped, _ = message(address, X_Sync_Generated="test-email")
    loop = reader.post(f"/api/mailboxes/{mailbox_id}/check-incoming", json={"mime": looped.decode()}).json()
    assert loop["reason"] == "LoopDetected" and loop["reason_code"] == -12
    assert count(isolated_store) == before


def test_bad_input_is_422_and_a_missing_mailbox_404(admin: TestClient) -> None:
    both = admin.post("/api/mailboxes/x/check-incoming", json={"mime": "a", "mime_base64": "YQ=="})
    assert both.status_code == 422 and "exactly one" in both.json()["detail"]
    bad = admin.post("/api/mailboxes/x/check-incoming", json={"mime_base64": "***"})
    assert bad.status_code in (404, 422)
    assert admin.post("/api/mailboxes/nope/check-incoming", json={"mime": "Subject: x\r\n\r\n"}).status_code == 404
