"""Guard rails of the admin API: credentials before the body, bounded bodies and recipients, odd ids and tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sync.api.app import create_app
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN, READER, created

pytestmark = pytest.mark.integration

SMALL_BODY = 4096


@pytest.fixture(scope="module")
def strict(api_settings: Settings, isolated_store: Store) -> Iterator[TestClient]:
    """An app with a small body limit and few recipients allowed, as an administrator."""
    settings = api_settings.model_copy(update={"api_max_body_bytes": SMALL_BODY, "api_max_recipients": 3})
    with TestClient(create_app(settings, lambda: isolated_store), headers=ADMIN) as client:
        yield client


# --- credentials come first --------------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"{not json", b'{"name": 5, "server_type": "x"}', b"{}"])
def test_credentials_are_checked_before_the_body(anonymous: TestClient, content: bytes) -> None:
    answer = anonymous.post("/api/profiles", content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == 401
    assert answer.json()["detail"].startswith("authentication required")
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_wrong_key_is_refused_before_the_body(anonymous: TestClient) -> None:
    answer = anonymous.post("/api/profiles", content=b"{not json", headers={"X-API-Key": "wrong"})
    assert answer.status_code == 401 and "does not hold a valid API key" in answer.json()["detail"]


def test_the_health_probe_and_the_docs_stay_open(anonymous: TestClient) -> None:
    assert anonymous.get("/api/openapi.json").status_code == 200
    assert anonymous.get("/api/docs").status_code == 200
    assert anonymous.get("/api/health").status_code in (200, 503)


def test_roles_are_still_checked_by_the_routes(app_reader: TestClient) -> None:
    assert app_reader.get("/api/profiles").status_code == 200
    assert app_reader.post("/api/profiles", json={"name": "x", "server_type": 4}).status_code == 403


@pytest.fixture(scope="module")
def app_reader(anonymous: TestClient) -> TestClient:
    anonymous.headers.update(READER)
    return anonymous


# --- bodies ------------------------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_refused_before_it_is_parsed(strict: TestClient) -> None:
    body = json.dumps({"name": "x" * SMALL_BODY, "server_type": 4, "incoming_server_location": "imap.example.test"})
    answer = strict.post("/api/profiles", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert "SYNC_API_MAX_BODY_BYTES" in answer.json()["detail"]


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(strict: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(8):
            yield b"x" * 1024
        yield b'", "server_type": 4}'

    answer = strict.post("/api/profiles", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_a_body_under_the_limit_goes_through(strict: TestClient) -> None:
    created(
        strict.post("/api/profiles", json={"name": "small", "server_type": 4, "incoming_server_location": "h.test"})
    )


# --- recipients --------------------------------------------------------------------------------------------------
def test_the_recipients_of_one_email_are_capped(strict: TestClient) -> None:
    user = created(strict.post("/api/users", json={"full_name": "Cap Sender", "internal_email_address": "cap@x.test"}))
    contacts = [
        created(strict.post("/api/contacts", json={"last_name": f"R{n}", "email_address1": f"r{n}-cap@example.test"}))
        for n in range(4)
    ]
    recipients = [{"type": "contact", "id": contact["id"]} for contact in contacts]
    sender = {"type": "systemuser", "id": user["id"]}
    answer = strict.post("/api/emails", json={"from": sender, "to": recipients[:2], "bcc": recipients[2:]})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "body.to", "reason": "4 recipients in To, Cc and Bcc; at most 3 (SYNC_API_MAX_RECIPIENTS)"}
    ]
    allowed = strict.post("/api/emails", json={"from": sender, "to": recipients[:3]})
    assert allowed.status_code == 201, allowed.text


# --- ids and continuation tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize("item_id", ["a%2Fb", "a%00b", "a%0Ab", "%E2%80%AEevil", "x" * 65])
def test_odd_ids_are_a_client_error(admin: TestClient, item_id: str) -> None:
    for answer in (admin.get(f"/api/profiles/{item_id}"), admin.delete(f"/api/mailboxes/{item_id}")):
        assert 400 <= answer.status_code < 500, (item_id, answer.status_code)


def nested_token(depth: int) -> str:
    return base64.urlsafe_b64encode(("[" * depth + "]" * depth).encode()).decode()


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("x" * 5000, 422),  # longer than any token a page hands out
        (nested_token(1500), 400),  # fits the length, but would exhaust the JSON parser's recursion
        (base64.urlsafe_b64encode(b'{"a": {"b": 1}}').decode(), 400),
        ("not base64 !", 400),
    ],
)
def test_odd_continuation_tokens_are_a_client_error(admin: TestClient, token: str, status: int) -> None:
    assert admin.get("/api/profiles", params={"continuation": token}).status_code == status
