"""Readable option sets and record references through the admin API, on real Azurite.

Name in (any case, spaces or underscores), name and number out; numbers still work; storage keeps the number;
a filter value that names nothing is a 422 that lists the allowed values, never a silent empty list.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sync.incoming.reasons import Reason
from sync.model import Alert, ItemFailure
from sync.model.fields import EntityRef, utcnow
from sync.model.options import AlertLevel, EntityType, IncomingDeliveryMethod, ServerType
from sync.model.profile import TlsMode
from sync.store import Store
from tests.integration.api.conftest import created

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.test"


def new_user(admin: TestClient) -> dict[str, object]:
    body = {"full_name": "Readable", "internal_email_address": unique("readable")}
    return created(admin.post("/api/users", json=body))


def test_an_option_set_takes_a_name_and_answers_with_name_and_number(admin: TestClient, isolated_store: Store) -> None:
    body = {"name": "By name", "server_type": "IMAP_SMTP", "incoming_tls": "Start TLS", "outgoing_tls": "implicit"}
    profile = created(admin.post("/api/profiles", json=body))
    assert profile["server_type"] == {"value": 4, "name": "imap_smtp"}
    assert profile["incoming_tls"] == {"value": 1, "name": "starttls"}
    assert profile["outgoing_tls"] == {"value": 0, "name": "implicit"}
    assert profile["state"] == {"value": 0, "name": "active"}  # a default answers the same way

    stored = isolated_store.get_profile(str(profile["id"]))
    assert (stored.server_type, stored.incoming_tls) == (ServerType.IMAP_SMTP, TlsMode.STARTTLS)
    raw = isolated_store.profiles.table.get_entity(str(profile["id"]), "profile")
    assert raw["server_type"] == 4  # storage keeps Dynamics' number: nothing to migrate


def test_numbers_and_the_answered_object_are_accepted_too(admin: TestClient) -> None:
    user = new_user(admin)
    path = f"/api/mailboxes/{user['default_mailbox_id']}"
    by_number = admin.patch(path, json={"incoming_method": 0})
    assert by_number.status_code == 200, by_number.text
    assert by_number.json()["incoming_method"] == {"value": 0, "name": "none"}

    shown = admin.patch(path, json={"incoming_method": "server-side sync"}).json()["incoming_method"]
    assert shown == {"value": int(IncomingDeliveryMethod.SERVER_SIDE_SYNC), "name": "server_side_sync"}
    round_trip = admin.patch(path, json={"incoming_method": shown, "act_method": {"value": 1, "name": "x"}})
    assert round_trip.status_code == 422  # a value and a name that disagree are not guessed at
    answered = {"value": 1, "name": "server_side_sync"}
    round_trip = admin.patch(path, json={"incoming_method": shown, "act_method": answered})
    assert round_trip.status_code == 200, round_trip.text  # what a GET gave can be sent back as it is
    assert round_trip.json()["act_method"] == answered


def test_an_unknown_option_is_a_422_that_lists_the_allowed_values(admin: TestClient) -> None:
    refused = admin.post("/api/profiles", json={"name": "Bad", "server_type": "exchange_2003_secret"})
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["field"] == "body.server_type"
    assert error["reason"].startswith("unknown ServerType: use one of exchange_server = 0, pop3_smtp = 1")
    assert "imap_smtp = 4" in error["reason"] and "exchange_online = 3" in error["reason"]
    assert "exchange_2003_secret" not in refused.text  # the input is never echoed
    assert admin.post("/api/profiles", json={"name": "Bad", "server_type": 99}).status_code == 422
    assert admin.post("/api/profiles", json={"name": "Bad", "server_type": True}).status_code == 422


def test_list_filters_take_names_in_any_case_and_numbers(admin: TestClient) -> None:
    created(admin.post("/api/profiles", json={"name": "POP by name", "server_type": "pop3_smtp"}))
    ids = {
        spelled: {p["id"] for p in admin.get("/api/profiles", params={"server_type": spelled}).json()["items"]}
        for spelled in ("POP3_SMTP", "pop3 smtp", "1")
    }
    assert ids["POP3_SMTP"] and ids["POP3_SMTP"] == ids["pop3 smtp"] == ids["1"]
    listed = admin.get("/api/profiles", params={"server_type": "Pop3_Smtp"}).json()["items"]
    assert all(p["server_type"]["name"] == "pop3_smtp" for p in listed)


def test_an_unknown_filter_value_is_a_422_never_an_empty_list(admin: TestClient) -> None:
    refused = admin.get("/api/mailboxes", params={"incoming_method": "carrier_pigeon"})
    assert refused.status_code == 422
    reason = refused.json()["errors"][0]["reason"]
    assert "none = 0" in reason and "server_side_sync = 2" in reason and "forward_mailbox = 3" in reason
    assert admin.get("/api/users", params={"state": "retired"}).status_code == 422
    assert admin.get("/api/emails", params={"direction": "sideways"}).status_code == 422


def test_alerts_filter_by_level_name(admin: TestClient, isolated_store: Store) -> None:
    mailbox_id = str(new_user(admin)["default_mailbox_id"])
    regarding = EntityRef(type=EntityType.MAILBOX, id=mailbox_id)
    for level, code in ((AlertLevel.ERROR, 101), (AlertLevel.WARNING, 102)):
        isolated_store.alerts.upsert(
            Alert(level=level, code=code, text="readable", regarding=regarding, mailbox_id=mailbox_id)
        )
    for spelled in ("error", "ERROR", "Error", "3"):
        response = admin.get("/api/alerts", params={"mailbox_id": mailbox_id, "level": spelled})
        assert response.status_code == 200, response.text  # "error" was a 422 before
        assert [a["code"] for a in response.json()["items"]] == [101]
    alert = response.json()["items"][0]
    assert alert["level"] == {"value": 3, "name": "error"}
    assert alert["regarding"] == {"type": "mailbox", "id": mailbox_id}
    unknown = admin.get("/api/alerts", params={"level": "fatal"})
    assert unknown.status_code == 422
    assert "information = 1, warning = 2, error = 3" in unknown.json()["errors"][0]["reason"]


def test_item_failures_filter_by_reason_in_any_spelling(admin: TestClient, isolated_store: Store) -> None:
    mailbox_id = str(new_user(admin)["default_mailbox_id"])
    isolated_store.item_failures.upsert(
        ItemFailure(
            mailbox_id=mailbox_id,
            message_key="readable-1",
            reason=Reason.NO_CORRELATION_MATCH.label,
            reason_code=int(Reason.NO_CORRELATION_MATCH),
            expires_on=utcnow() + timedelta(days=3),
        )
    )
    path = f"/api/mailboxes/{mailbox_id}/item-failures"
    for spelled in ("NoCorrelationMatch", "nocorrelationmatch", "no_correlation_match", "1"):
        found = admin.get(path, params={"reason": spelled})
        assert found.status_code == 200, found.text
        assert [f["message_key"] for f in found.json()["items"]] == ["readable-1"]
    assert admin.get(path, params={"reason": "Duplicate"}).json()["items"] == []  # known, none of them
    assert admin.get(path, params={"reason": "NoSuchReason"}).status_code == 422  # was a silent empty list


def test_record_references_have_one_shape_everywhere(admin: TestClient) -> None:
    user = new_user(admin)
    mailbox = admin.get(f"/api/mailboxes/{user['default_mailbox_id']}").json()
    assert mailbox["owner"] == {"type": "systemuser", "id": user["id"]}
    queue = created(admin.post("/api/queues", json={"name": "Readable queue", "email_address": unique("q")}))
    queue_mailbox = admin.get(f"/api/mailboxes/{queue['default_mailbox_id']}").json()
    assert queue_mailbox["owner"] == {"type": "queue", "id": queue["id"]}
    assert user["auto_create_record_type"] == {"value": 2, "name": "contact"}  # a table as an option set


def test_sync_filter_paths_and_rules_take_names(admin: TestClient) -> None:
    path = f"/api/users/{new_user(admin)['id']}/sync-filters"
    by_name = admin.put(f"{path}/Appointment", json={"rule": "owned"})
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["object_type"] == {"value": 4201, "name": "appointment"}
    assert by_name.json()["rule"] == {"value": 1, "name": "owned"}
    assert admin.get(f"{path}/4201").json()["rule"]["name"] == "owned"
    assert admin.get(f"{path}/spaceship").status_code == 422


def test_the_email_connection_channel_is_an_option_set(admin: TestClient) -> None:
    kept = admin.patch("/api/organization", json={"email_connection_channel": "Server Side Sync"})
    assert kept.status_code == 200, kept.text
    assert kept.json()["email_connection_channel"] == {"value": 0, "name": "server_side_sync"}
    refused = admin.patch("/api/organization", json={"email_connection_channel": 57})  # was stored as it came
    assert refused.status_code == 422
    assert "server_side_sync = 0, email_router = 1" in refused.json()["errors"][0]["reason"]


def test_an_email_takes_references_by_name_or_code_and_answers_by_name(admin: TestClient) -> None:
    user = new_user(admin)
    contact = created(admin.post("/api/contacts", json={"last_name": "Ref", "email_address1": unique("c")}))
    account = created(admin.post("/api/accounts", json={"name": "Ref Ltd"}))
    body = {
        "from": {"type": 8, "id": user["id"]},  # the type code, as older clients send it
        "to": [{"type": "Contact", "id": contact["id"]}],
        "regarding": {"type": "account", "id": account["id"]},
        "priority": "HIGH",
    }
    email = created(admin.post("/api/emails", json=body))
    parties = {p["participation"]: (p["type"], p["id"]) for p in email["parties"]}
    assert parties["from"] == ("systemuser", user["id"]) and parties["to"] == ("contact", contact["id"])
    assert email["regarding"] == {"type": "account", "id": account["id"]}
    assert email["status"] == {"value": 1, "name": "draft"}
    stored = admin.get(f"/api/emails/{email['id']}").json()
    assert stored["priority"] == {"value": 2, "name": "high"}
    assert stored["regarding"] == {"type": "account", "id": account["id"]}  # the same shape in both email views

    refused = admin.post("/api/emails", json={**body, "from": {"type": "task", "id": user["id"]}})
    assert refused.status_code == 422
    assert "systemuser, queue, contact, account or lead" in refused.json()["errors"][0]["reason"]
