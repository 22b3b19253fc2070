"""Bearer tokens from the Entra ID stand-in, checked against its published keys, with impersonation."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import jwt
import msal
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from exchangelib import (
    IMPERSONATION,
    OAUTH2,
    Account,
    Configuration,
    FailFast,
    OAuth2AuthorizationCodeCredentials,
    Version,
)
from exchangelib.errors import UnauthorizedError
from exchangelib.version import EXCHANGE_2016

from devstack import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from tests.ews.auth import EWS_AUDIENCE
from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE, mime

pytestmark = pytest.mark.integration

EWS_SCOPE = f"{EWS_AUDIENCE}/.default"


@pytest.fixture(scope="module")
def entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / "ews-entra", test_ca, tenant="ews-tenant") as mock:
        yield mock


@pytest.fixture
def bearer_server(test_ca: TestCA, entra: EntraMock) -> Iterator[EwsServer]:
    """A server that accepts only Bearer tokens of the stand-in tenant."""
    jwks = f"{entra.authority}/{entra.tenant}/discovery/v2.0/keys"
    server = EwsServer(
        test_ca.server_cert,
        test_ca.server_key,
        jwks_url=jwks,
        jwks_ssl_context=test_ca.ssl_client_context(),
        issuer=entra.authority,
    )
    with server:
        server.add_mailbox(ALICE)
        yield server


def msal_token(entra: EntraMock, ca: TestCA) -> str:
    """A token by the client-credentials grant for the EWS scope, as production gets it."""
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace verify=
    http.verify = str(ca.ca_cert)
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=CLIENT_SECRET,
        authority=f"{entra.authority}/{entra.tenant}",
        instance_discovery=False,
        http_client=http,
    )
    result = app.acquire_token_for_client(scopes=[EWS_SCOPE])
    return str(result["access_token"])


def impersonating(server: EwsServer, token: str) -> Account:
    credentials = OAuth2AuthorizationCodeCredentials(
        access_token={"access_token": token, "token_type": "Bearer", "expires_in": 3600}
    )
    config = Configuration(
        service_endpoint=server.url,
        credentials=credentials,
        auth_type=OAUTH2,
        version=Version(build=EXCHANGE_2016),
        retry_policy=FailFast(),
    )
    return Account(ALICE, config=config, autodiscover=False, access_type=IMPERSONATION)


def test_an_app_token_for_ews_is_accepted(
    bearer_server: EwsServer, entra: EntraMock, test_ca: TestCA, ews_trust: None
) -> None:
    token = msal_token(entra, test_ca)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["aud"], claims["roles"]) == (EWS_AUDIENCE, ["full_access_as_app"])
    bearer_server.deliver(ALICE, mime("m"))
    account = impersonating(bearer_server, token)
    assert account.inbox.total_count == 1
    assert {(call.mailbox, call.anchor_mailbox) for call in bearer_server.calls.log} == {(ALICE, ALICE)}


@pytest.mark.parametrize(
    "claims",
    [
        {"scope": EWS_SCOPE, "exp_offset": -3600},  # expired
        {"scope": "api://sync-admin/.default", "roles": ["full_access_as_app"]},  # for another audience
        {"scope": EWS_SCOPE, "roles": []},  # without the EWS application permission
        {"scope": EWS_SCOPE, "iss": "https://login.microsoftonline.com/other/v2.0"},  # another issuer
    ],
)
def test_bad_tokens_are_refused(
    bearer_server: EwsServer, entra: EntraMock, ews_trust: None, claims: dict[str, object]
) -> None:
    with pytest.raises(UnauthorizedError):
        impersonating(bearer_server, entra.token(**claims)).root  # noqa: B018
    assert bearer_server.calls.total() == 0


def test_a_token_signed_by_another_key_is_refused(bearer_server: EwsServer, entra: EntraMock, ews_trust: None) -> None:
    genuine = entra.token(scope=EWS_SCOPE)
    header = json.loads(base64.urlsafe_b64decode(genuine.split(".")[0] + "=="))
    forged = jwt.encode(
        jwt.decode(genuine, options={"verify_signature": False}),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": header["kid"]},
    )
    with pytest.raises(UnauthorizedError):
        impersonating(bearer_server, forged).root  # noqa: B018
    assert impersonating(bearer_server, genuine).root.name == "Root"
