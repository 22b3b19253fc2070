"""Pointing a profile (or a mailbox) at another server never hands it the secrets given for the old one.

The "new server" is a recording proxy in front of the real Dovecot (plaintext IMAP, so what crosses it can be
read): before the fix, Test & Enable after the change logged in through it with the stored password.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack import Dovecot, SmtpServer
from sync.api.app import create_app
from sync.model.options import ServerType
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN, MailWorld, created
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


@pytest.fixture
def recorder(dovecot: Dovecot) -> Iterator[FlakyProxy]:
    with FlakyProxy(dovecot.host, dovecot.imap_port) as proxy:
        yield proxy


def _plaintext_imap(dovecot: Dovecot, smtp: SmtpServer, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Plain IMAP",
        "server_type": int(ServerType.IMAP_SMTP),
        "incoming_server_location": "localhost",
        "incoming_port": port,
        "incoming_tls": 2,
        "allow_plaintext": True,
        "outgoing_server_location": "localhost",
        "outgoing_port": smtp.submission_port,
        "outgoing_tls": 1,
        "timeout_mailbox_connection_after_ms": 5000,
        **extra,
    }


def _never_saw_the_password(recorder: FlakyProxy) -> None:
    sent = b"\r\n".join(recorder.client_lines_since(0))
    for form in (MAIL_PASSWORD.encode(), base64.b64encode(MAIL_PASSWORD.encode())):
        assert form not in sent
    assert recorder.client_bytes() == 0  # not even a connection: the credentials are missing first


def test_moving_the_incoming_server_clears_the_mailbox_passwords(
    admin: TestClient, mail_world: MailWorld, recorder: FlakyProxy
) -> None:
    profile = created(
        admin.post(
            "/api/profiles", json=_plaintext_imap(mail_world.dovecot, mail_world.smtp, mail_world.dovecot.imap_port)
        )
    )
    mailbox_id = mail_world.new_user(admin, profile_id=profile["id"])
    assert admin.get(f"/api/mailboxes/{mailbox_id}").json()["password_is_set"] is True

    assert admin.patch(f"/api/profiles/{profile['id']}", json={"incoming_port": recorder.port}).status_code == 200
    assert admin.get(f"/api/mailboxes/{mailbox_id}").json()["password_is_set"] is False
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert {p["workload"]: p["code"] for p in result["problems"]}["incoming"] == "CredentialsMissing"
    _never_saw_the_password(recorder)

    given_again = {"password": MAIL_PASSWORD}
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json=given_again).status_code == 200
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]  # through the proxy


def test_a_mailbox_given_another_profile_by_the_defaults_keeps_its_password_home(
    admin: TestClient, mail_world: MailWorld, recorder: FlakyProxy
) -> None:
    elsewhere = created(
        admin.post("/api/profiles", json=_plaintext_imap(mail_world.dovecot, mail_world.smtp, recorder.port))
    )
    mailbox_id = mail_world.new_user(admin)  # a password given for the world's profile
    admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": None})
    assert (
        admin.patch("/api/organization", json={"default_email_server_profile_id": elsewhere["id"]}).status_code == 200
    )
    try:
        result = admin.post(f"/api/mailboxes/{mailbox_id}/apply-default-email-settings").json()
    finally:
        admin.patch("/api/organization", json={"default_email_server_profile_id": None})
    assert result["succeeded"] is False
    assert {p["workload"]: p["code"] for p in result["problems"]}["incoming"] == "CredentialsMissing"
    _never_saw_the_password(recorder)


def test_a_mailbox_patched_onto_another_profile_loses_its_password(admin: TestClient, mail_world: MailWorld) -> None:
    other = created(admin.post("/api/profiles", json={"name": "Other", "server_type": 4}))
    mailbox_id = mail_world.new_user(admin)
    moved = admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": other["id"]}).json()
    assert moved["password_is_set"] is False
    with_password = {"email_server_profile_id": mail_world.profile.id, "password": MAIL_PASSWORD}
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json=with_password).json()["password_is_set"] is True


def _secrets(body: dict[str, Any]) -> dict[str, bool]:
    return {name: body[f"{name}_is_set"] for name in ("incoming_password", "outgoing_password", "oauth_client_secret")}


def test_profile_secrets_are_cleared_with_their_endpoint_unless_sent_again(admin: TestClient) -> None:
    secrets = {"incoming_password": "in-pw", "outgoing_password": "out-pw"}
    body = {"name": "P", "server_type": 4, "incoming_server_location": "imap.example.test", **secrets}
    profile = created(admin.post("/api/profiles", json={**body, "use_same_settings_for_outgoing": False}))
    path = f"/api/profiles/{profile['id']}"
    assert _secrets(admin.patch(path, json={"name": "Renamed"}).json())["incoming_password"] is True
    moved = admin.patch(path, json={"incoming_server_location": "imap.elsewhere.test"}).json()
    assert _secrets(moved) == {"incoming_password": False, "outgoing_password": True, "oauth_client_secret": False}
    kept = admin.patch(path, json={"incoming_port": 1993, "incoming_password": "new-pw"}).json()
    assert _secrets(kept)["incoming_password"] is True
    assert _secrets(admin.patch(path, json={"outgoing_server_location": "smtp.elsewhere.test"}).json()) == {
        "incoming_password": True,
        "outgoing_password": False,
        "oauth_client_secret": False,
    }


def _graph_profile(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Graph",
        "server_type": int(ServerType.EXCHANGE_ONLINE),
        "exchange_api": 1,
        "exchange_online_tenant_id": "tenant",
        "oauth_client_id": "client",
        "oauth_client_secret": "client-secret",
        **extra,
    }


def test_a_new_graph_url_or_audience_clears_the_client_secret(admin: TestClient) -> None:
    profile = created(admin.post("/api/profiles", json=_graph_profile(graph_url="https://graph.microsoft.com/v1.0")))
    path = f"/api/profiles/{profile['id']}"
    assert profile["oauth_client_secret_is_set"] is True
    us_gov = {"graph_url": "https://graph.microsoft.us/v1.0", "aad_resource_id": "https://graph.microsoft.us"}
    assert admin.patch(path, json=us_gov).json()["oauth_client_secret_is_set"] is False
    again = admin.patch(path, json={"oauth_client_secret": "s2"}).json()
    assert again["oauth_client_secret_is_set"] is True
    assert admin.patch(path, json={"exchange_online_tenant_id": "t2"}).json()["oauth_client_secret_is_set"] is False


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"aad_resource_id": "https://management.azure.com"}, "aad_resource_id"),
        ({"aad_resource_id": "https://vault.azure.net"}, "aad_resource_id"),
        ({"graph_url": "https://graph.evil.test/v1.0"}, "graph_url"),
        ({"graph_url": "https://169.254.169.254/v1.0"}, "graph_url"),
        ({"graph_url": "https://graph.microsoft.com:8443/v1.0"}, "graph_url"),
        (
            {"graph_url": "https://graph.microsoft.us/v1.0", "aad_resource_id": "https://graph.microsoft.com"},
            "aad_resource_id",
        ),
    ],
)
def test_token_audiences_outside_the_microsoft_clouds_are_refused(
    admin: TestClient, fields: dict[str, str], field: str
) -> None:
    response = admin.post("/api/profiles", json=_graph_profile(**fields))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_national_clouds_are_allowed(admin: TestClient) -> None:
    china = {
        "graph_url": "https://microsoftgraph.chinacloudapi.cn/v1.0",
        "aad_resource_id": "https://microsoftgraph.chinacloudapi.cn",
    }
    assert admin.post("/api/profiles", json=_graph_profile(**china)).status_code == 201


@pytest.fixture
def on_premises_app(api_settings: Settings, isolated_store: Store) -> FastAPI:
    opted_in = api_settings.model_copy(update={"allow_custom_token_audiences": True})
    return create_app(opted_in, lambda: isolated_store)


def test_the_opt_in_allows_an_on_premises_audience(on_premises_app: FastAPI) -> None:
    fields = {"graph_url": "https://exchange.contoso.local/v1.0", "aad_resource_id": "https://exchange.contoso.local"}
    with TestClient(on_premises_app, headers=ADMIN) as client:
        assert client.post("/api/profiles", json=_graph_profile(**fields)).status_code == 201
