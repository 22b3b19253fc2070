"""Entra ID bearer tokens, validated against a real issuer: oauth2-mock-server with Entra's tenant paths."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from devstack import TestCA
from devstack.entra import EntraMock
from sync.api.app import create_app
from sync.api.auth import EXCHANGE_ADMINISTRATOR, GLOBAL_ADMINISTRATOR
from sync.settings import Settings
from sync.store import Store

pytestmark = pytest.mark.integration

AUDIENCE = "api://sync-admin"


@pytest.fixture(scope="module")
def entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / "entra", test_ca, tenant="contoso-tenant") as mock:
        yield mock


@pytest.fixture(scope="module")
def client(api_settings: Settings, isolated_store: Store, entra: EntraMock) -> Iterator[TestClient]:
    own = api_settings.model_copy(
        update={"api_tenant_id": entra.tenant, "api_audience": AUDIENCE, "api_authority": entra.authority}
    )
    with TestClient(create_app(own, lambda: isolated_store)) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_admin_token_is_accepted(client: TestClient, entra: EntraMock) -> None:
    token = entra.token(roles=["Sync.Admin"])
    assert client.get("/api/profiles", headers=bearer(token)).status_code == 200
    created = client.post("/api/contacts", json={"last_name": "Token"}, headers=bearer(token))
    assert created.status_code == 201


def test_a_reader_token_reads_but_cannot_test_and_enable(client: TestClient, entra: EntraMock) -> None:
    token = entra.token(roles=["Sync.Reader"])
    assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
    refused = client.post("/api/mailboxes/m1/test-and-enable", headers=bearer(token))
    assert refused.status_code == 403 and "Sync.Admin" in refused.json()["detail"]
    assert client.post("/api/mailboxes/m1/approve", headers=bearer(token)).status_code == 403


def test_a_token_without_roles_is_forbidden(client: TestClient, entra: EntraMock) -> None:
    response = client.get("/api/profiles", headers=bearer(entra.token()))
    assert response.status_code == 403 and "Sync.Reader" in response.json()["detail"]


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp_offset": -3600}, "expired"),
        ({"aud": "api://someone-else"}, "another audience"),
        ({"iss": "https://login.microsoftonline.com/other/v2.0"}, "another tenant or identity provider"),
        ({"tid": "other-tenant"}, "another tenant"),
    ],
)
def test_bad_tokens_are_401_with_the_reason(
    client: TestClient, entra: EntraMock, claims: dict[str, object], message: str
) -> None:
    response = client.get("/api/profiles", headers=bearer(entra.token(roles=["Sync.Admin"], **claims)))
    assert response.status_code == 401
    assert message in response.json()["detail"]


def test_a_token_signed_by_another_key_is_401(client: TestClient, entra: EntraMock) -> None:
    genuine = entra.token(roles=["Sync.Admin"])
    header = json.loads(base64.urlsafe_b64decode(genuine.split(".")[0] + "=="))
    claims = jwt.decode(genuine, options={"verify_signature": False})
    forged = jwt.encode(
        claims,
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": header["kid"]},
    )
    response = client.get("/api/profiles", headers=bearer(forged))
    assert response.status_code == 401 and "signature" in response.json()["detail"]


def test_garbage_is_401(client: TestClient) -> None:
    response = client.get("/api/profiles", headers=bearer("not-a-jwt"))
    assert response.status_code == 401 and "well-formed" in response.json()["detail"]


def _new_mailbox(admin: TestClient) -> str:
    address = f"approve-{uuid.uuid4().hex[:10]}@example.test"
    user = admin.post("/api/users", json={"full_name": "Approval Target", "internal_email_address": address})
    assert user.status_code == 201, user.text
    return str(user.json()["default_mailbox_id"])


def test_r_sec_2_an_admin_token_cannot_approve_an_approver_token_can(
    client: TestClient, entra: EntraMock, admin: TestClient, isolated_store: Store
) -> None:
    mailbox_id = _new_mailbox(admin)
    refused = client.post(f"/api/mailboxes/{mailbox_id}/approve", headers=bearer(entra.token(roles=["Sync.Admin"])))
    assert refused.status_code == 403 and "Sync.Approver" in refused.json()["detail"]
    approver = bearer(entra.token(roles=["Sync.Approver"]))
    assert client.post(f"/api/mailboxes/{mailbox_id}/approve", headers=approver).status_code == 200
    mailbox = isolated_store.get_mailbox(mailbox_id)
    assert mailbox.email_address_approved_by == "00000000-0000-0000-0000-00000000000a"  # the token's oid
    assert not mailbox.is_email_address_approved_by_o365_admin  # no directory role in the token


@pytest.mark.parametrize("wid", [GLOBAL_ADMINISTRATOR, EXCHANGE_ADMINISTRATOR])
def test_r_app_2_a_global_or_exchange_administrator_approves_for_microsoft_365(
    client: TestClient, entra: EntraMock, admin: TestClient, isolated_store: Store, wid: str
) -> None:
    mailbox_id = _new_mailbox(admin)
    admin.post(f"/api/mailboxes/{mailbox_id}/reject")
    token = entra.token(roles=["Sync.Approver"], wids=[wid])
    approved = client.post(f"/api/mailboxes/{mailbox_id}/approve", headers=bearer(token))
    assert approved.status_code == 200, approved.text
    assert isolated_store.get_mailbox(mailbox_id).is_email_address_approved_by_o365_admin


def test_r_app_2_a_declared_microsoft_365_approval_without_the_directory_role_is_403(
    client: TestClient, entra: EntraMock, admin: TestClient, isolated_store: Store
) -> None:
    mailbox_id = _new_mailbox(admin)
    admin.post(f"/api/mailboxes/{mailbox_id}/reject")
    user_administrator = "fe930be7-5e62-47db-91af-98c3a49a38b1"
    token = entra.token(roles=["Sync.Approver"], wids=[user_administrator])
    refused = client.post(
        f"/api/mailboxes/{mailbox_id}/approve", headers=bearer(token), json={"approved_by_o365_admin": True}
    )
    assert refused.status_code == 403 and "Exchange Administrator" in refused.json()["detail"]
    assert not isolated_store.get_mailbox(mailbox_id).is_email_address_approved_by_o365_admin


def test_r_app_4_another_tenants_global_administrator_cannot_approve(client: TestClient, entra: EntraMock) -> None:
    token = entra.token(roles=["Sync.Approver"], wids=[GLOBAL_ADMINISTRATOR], tid="partner-tenant")
    assert client.post("/api/mailboxes/m1/approve", headers=bearer(token)).status_code == 401
