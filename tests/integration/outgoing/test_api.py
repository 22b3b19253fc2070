"""The outgoing email routes, in a small app that mounts the router as the admin app will (real Azurite)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.api import emails, errors
from sync.incoming.correlate import token_pattern
from sync.model import OrganizationSettings, SystemUser
from sync.settings import Settings
from sync.store import Store
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration


@pytest.fixture
def client(outbox: Outbox) -> Iterator[TestClient]:
    app = FastAPI()
    errors.install(app)  # the admin app's error shapes, as in production
    app.include_router(emails.router)

    def store() -> Store:
        return outbox.store

    def settings() -> Settings:
        return outbox.settings

    app.dependency_overrides[emails.get_store] = store
    app.dependency_overrides[emails.get_settings] = settings
    with TestClient(app) as test_client:
        yield test_client


def _draft(outbox: Outbox, sender: SystemUser | Any, **extra: Any) -> dict[str, Any]:
    return {
        "from": {"type": "queue" if extra.pop("queue", False) else "systemuser", "id": sender.id},
        "to": [{"type": "contact", "id": outbox.carol.id}, {"address": "pat@partner.test", "name": "Pat"}],
        "subject": "Proposal",
        "html_body": "<p>Please find the proposal attached.</p>",
        "attachments": [
            {
                "file_name": "proposal.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(b"%PDF").decode(),
            }
        ],
        **extra,
    }


def _set_org(outbox: Outbox, **fields: Any) -> OrganizationSettings:
    org = outbox.store.get_organization()
    previous = org.model_copy()
    for name, value in fields.items():
        setattr(org, name, value)
    outbox.store.organization.upsert(org)
    return previous


def test_create_then_send_queues_the_email(outbox: Outbox, client: TestClient) -> None:
    user, mailbox = outbox.mailbox()
    created = client.post("/api/emails", json=_draft(outbox, user))
    assert created.status_code == 201, created.text
    view = created.json()
    assert (view["status"], view["tracking_token"]) == ({"value": 1, "name": "draft"}, None)
    assert [(p["participation"], p["type"], p["address"], p["resolved"]) for p in view["parties"]] == [
        ("from", "systemuser", mailbox.email_address, True),
        ("to", "contact", "carol@fabrikam.test", True),
        ("to", None, "pat@partner.test", False),
    ]
    attachment = {"file_name": "proposal.pdf", "content_type": "application/pdf", "size": 4, "inline": False}
    assert view["attachments"] == [attachment]

    sent = client.post(f"/api/emails/{view['id']}/send", json={})
    assert sent.status_code == 200, sent.text
    queued = sent.json()
    assert (queued["status"]["name"], queued["sender_mailbox_id"]) == ("pending_send", mailbox.id)
    assert token_pattern(outbox.store.get_organization()).fullmatch(queued["tracking_token"])
    assert queued["message_id"] == f"<{view['id']}@example.test>"
    assert len(outbox.receive()) == 1

    again = client.post(f"/api/emails/{view['id']}/send", json={})
    assert again.status_code == 409 and "Pending Send" in again.json()["detail"]
    delivery = client.get(f"/api/emails/{view['id']}/delivery")
    assert delivery.status_code == 200 and delivery.json()["status"]["name"] == "pending_send"


def test_issue_send_false_marks_it_sent_without_sending(outbox: Outbox, client: TestClient) -> None:
    user, _ = outbox.mailbox()
    email_id = client.post("/api/emails", json=_draft(outbox, user)).json()["id"]
    done = client.post(f"/api/emails/{email_id}/send", json={"issue_send": False, "tracking_token": "CRM:0999999"})
    assert done.status_code == 200
    view = done.json()
    assert (view["status"]["name"], view["tracking_token"], view["message_id"]) == ("sent", "CRM:0999999", None)
    assert outbox.receive() == []
    assert [s.email_id for s in outbox.store.token_index.find("CRM:0999999")] == [email_id]  # replies still track


def test_bad_input_is_422_naming_the_field(outbox: Outbox, client: TestClient) -> None:
    user, _ = outbox.mailbox()
    missing_from = client.post("/api/emails", json={"to": [{"address": "a@b.test"}]})
    assert missing_from.status_code == 422
    assert [e["field"] for e in missing_from.json()["errors"]] == ["body.from"]

    neither = client.post("/api/emails", json=_draft(outbox, user, to=[{"name": "nobody"}]))
    assert neither.status_code == 422 and neither.json()["errors"][0]["field"].startswith("body.to.0")

    bad_address = client.post("/api/emails", json=_draft(outbox, user, to=[{"address": "a@b\r\nBcc: c@d.test"}]))
    assert bad_address.status_code == 422 and bad_address.json()["errors"][0]["field"] == "to.0"

    unknown = client.post("/api/emails", json=_draft(outbox, user, to=[{"type": "contact", "id": "no-such-id"}]))
    assert unknown.status_code == 422 and unknown.json()["errors"] == [
        {"field": "to.0", "reason": "no contact no-such-id"}
    ]
    attachments = [{"file_name": "run.exe", "content_base64": "TVo="}, {"file_name": "a.txt", "content_base64": "%%%"}]
    blocked = client.post("/api/emails", json=_draft(outbox, user, attachments=attachments[:1]))
    assert blocked.status_code == 422 and blocked.json()["errors"][0]["field"] == "attachments.0"
    not_base64 = client.post("/api/emails", json=_draft(outbox, user, attachments=attachments[1:]))
    assert not_base64.status_code == 422 and "base64" in not_base64.json()["errors"][0]["reason"]
    assert "%%%" not in not_base64.text and "Bcc" not in bad_address.text  # the input is never echoed

    assert client.post("/api/emails/no-such-email/send", json={}).status_code == 404
    assert client.get("/api/emails/no-such-email/delivery").status_code == 404


def test_unresolved_recipients_only_when_the_organization_allows_them(outbox: Outbox, client: TestClient) -> None:
    user, _ = outbox.mailbox()
    previous = _set_org(outbox, allow_unresolved_parties_on_email_send=False)
    try:
        refused = client.post("/api/emails", json=_draft(outbox, user))
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "to" and "to.1 pat@partner.test" in refused.text
        resolved_only = {"to": [{"type": "contact", "id": outbox.carol.id}, {"address": "dan@contoso.test"}]}
        assert client.post("/api/emails", json=_draft(outbox, user, **resolved_only)).status_code == 201
    finally:
        outbox.store.organization.upsert(previous)


def test_send_as_another_user_needs_their_permission(outbox: Outbox, client: TestClient) -> None:
    boss, _ = outbox.mailbox()
    assistant, _ = outbox.mailbox()
    denied = client.post("/api/emails", json=_draft(outbox, boss, owner_user_id=assistant.id))
    assert denied.status_code == 403 and "You cannot send email as the selected user" in denied.json()["detail"]

    def allow(user: SystemUser) -> None:
        user.allow_send_on_behalf = True

    outbox.store.users.modify(boss.id, "record", allow)
    allowed = client.post("/api/emails", json=_draft(outbox, boss, owner_user_id=assistant.id))
    assert allowed.status_code == 201
    roles = {p["participation"]: p["id"] for p in allowed.json()["parties"] if p["participation"] in ("from", "sender")}
    assert roles == {"from": boss.id, "sender": assistant.id}
    queue, _ = outbox.mailbox(queue=True)  # a queue's email: any acting user
    on_behalf = _draft(outbox, queue, queue=True, owner_user_id=assistant.id)
    assert client.post("/api/emails", json=on_behalf).status_code == 201


def test_tracking_token_and_the_subject_limit(outbox: Outbox, client: TestClient) -> None:
    short = client.post("/api/emails/tracking-token", json={"subject": "Hello"}).json()
    assert token_pattern(outbox.store.get_organization()).fullmatch(short["tracking_token"])
    assert short["subject"] == f"Hello {short['tracking_token']}"
    long = client.post("/api/emails/tracking-token", json={"subject": "x" * 800}).json()
    assert len(long["subject"]) == 255 and long["subject"].endswith(" " + long["tracking_token"])  # N-23
    assert long["tracking_token"] != short["tracking_token"]  # the counter moved
    unknown_user = client.post("/api/emails/tracking-token", json={"user_id": "nobody"})
    assert unknown_user.status_code == 422


@pytest.mark.parametrize(
    "address", ["postmaster,x@evil.test", "p\u200bat@partner.test", "pat@partner.test\r\nBcc: x@evil.test"]
)
def test_a_recipient_address_must_be_a_mailbox(outbox: Outbox, client: TestClient, address: str) -> None:
    user, _ = outbox.mailbox()
    draft = _draft(outbox, user)
    draft["to"] = [{"address": address}]
    response = client.post("/api/emails", json=draft)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "to.0"
