"""Entra ID bearer tokens, validated against a real issuer: oauth2-mock-server with Entra's tenant paths."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from devstack import TestCA
from devstack.entra import EntraMock
from sync.api.app import create_app
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
