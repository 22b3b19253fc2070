"""The Gmail profile through the admin API: Google's defaults, write-only secrets, passwords to Google refused."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from devstack.google_oauth import GoogleOAuthServer
from sync.api.app import create_app
from sync.auth.secrets import SecretBox, open_field
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN

pytestmark = pytest.mark.integration


def test_the_gmail_template_creates_googles_defaults_with_oauth(
    admin: TestClient, isolated_store: Store, box: SecretBox, google_oauth: GoogleOAuthServer
) -> None:
    key_file = google_oauth.grants.add_service_account("tpl@p.iam.gserviceaccount.com").key_file(google_oauth.token_url)
    key_text = json.dumps(key_file)

    answer = admin.post(
        "/api/profiles/gmail",
        json={"name": "Gmail POP3", "pop3": True, "google_service_account_key": key_text, "oauth_client_id": "c1"},
    )

    assert answer.status_code == 201, answer.text
    shown = answer.json()
    assert shown["server_type"]["name"] == "pop3_smtp"
    assert (shown["incoming_server_location"], shown["incoming_port"]) == ("pop.gmail.com", 995)
    assert (shown["outgoing_server_location"], shown["outgoing_port"]) == ("smtp.gmail.com", 587)
    assert shown["incoming_credential_retrieval"]["name"] == "gmail_oauth"
    assert shown["pop3_recent_mode"] is True
    assert shown["google_service_account_key_is_set"] is True
    assert "google_service_account_key" not in shown and "PRIVATE KEY" not in answer.text
    stored = isolated_store.get_profile(shown["id"])
    assert open_field(box, stored, "google_service_account_key") == key_text
    assert "PRIVATE KEY" not in admin.get(f"/api/profiles/{shown['id']}").text


def test_a_profile_that_would_send_passwords_to_google_is_refused(admin: TestClient) -> None:
    created = admin.post("/api/profiles/gmail", json={"name": "Gmail IMAP"})
    assert created.status_code == 201

    refused = admin.patch(
        f"/api/profiles/{created.json()['id']}",
        json={"incoming_credential_retrieval": "user_or_queue", "incoming_authentication_protocol": "basic"},
    )
    by_hand = admin.post(
        "/api/profiles",
        json={"name": "By hand", "server_type": "imap_smtp", "incoming_server_location": "imap.gmail.com"},
    )

    assert refused.status_code == 422 and "OAuth only" in refused.text
    assert by_hand.status_code == 422 and "OAuth only" in by_hand.text


def test_app_passwords_to_google_are_allowed_by_the_setting(oauth_settings: Settings, isolated_store: Store) -> None:
    allowing = create_app(
        oauth_settings.model_copy(update={"allow_google_app_passwords": True}), lambda: isolated_store
    )
    with TestClient(allowing, headers=ADMIN) as admin:
        answer = admin.post(
            "/api/profiles",
            json={"name": "App password", "server_type": "imap_smtp", "incoming_server_location": "imap.gmail.com"},
        )
    assert answer.status_code == 201, answer.text
