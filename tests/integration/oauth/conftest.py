"""The local Google-style OAuth server, and an admin app whose profiles log in to Gmail with OAuth.

The server (``devstack.google_oauth``) is shared by the session; each test registers its own client or service
account on it, so tests never see each other's tokens.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack import Dovecot, SmtpServer
from devstack.certs import TestCA
from devstack.google_oauth import GoogleOAuthServer
from devstack.google_oauth_grants import MAIL_SCOPE
from devstack.oauth_trust import BearerValidator, OAuthAudience
from sync.api.app import create_app
from sync.api.context import ApiContext
from sync.auth.secrets import SecretBox, seal_field
from sync.auth.tokens import identity_provider_session
from sync.model import EmailServerProfile
from sync.model.options import AuthenticationProtocol, CredentialRetrieval, ServerType
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN, ADMIN_DIGEST

CALLBACK = "http://testserver/api/oauth/callback"  # what the API derives behind the TestClient


@pytest.fixture(scope="session")
def google_oauth(test_ca: TestCA) -> Iterator[GoogleOAuthServer]:
    server = GoogleOAuthServer(test_ca)
    server.start()
    try:
        yield server
    finally:
        server.stop()


GOOGLE_MAIL = OAuthAudience("google-mail", MAIL_SCOPE, username_claim="email")  # delegated: the token names its user


@pytest.fixture(scope="module")
def google_dovecot(stack_dir: Path, test_ca: TestCA) -> Iterator[Dovecot]:
    """A Dovecot that takes the local Google server's tokens (XOAUTH2, OAUTHBEARER) for the user they name."""
    server = Dovecot(stack_dir / f"dovecot-google-{uuid.uuid4().hex[:6]}", test_ca, {}, oauth_audiences=[GOOGLE_MAIL])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def google_smtp(test_ca: TestCA, google_dovecot: Dovecot) -> Iterator[SmtpServer]:
    """Submission taking the same tokens, relaying into ``google_dovecot``."""
    server = SmtpServer(
        test_ca,
        {},
        relay_to_lmtp=(google_dovecot.host, google_dovecot.lmtp_port),
        oauth=BearerValidator([GOOGLE_MAIL]),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def trust(google_oauth: GoogleOAuthServer, dovecot: Dovecot, smtp: SmtpServer, *clients: str) -> None:
    """The mail servers take tokens the local Google server signs for ``clients`` (their ``azp``)."""
    dovecot.trust_oauth_keys(google_oauth.grants.jwks(), clients)
    smtp.trust_oauth_keys(google_oauth.grants.jwks())


@pytest.fixture(scope="module")
def oauth_settings(settings: Settings, isolated_store: Store, test_ca: TestCA) -> Settings:
    return settings.model_copy(
        update={
            "api_keys": f"{ADMIN_DIGEST}:admin+approver",
            "extra_ca_file": str(test_ca.ca_cert),
            "storage_prefix": isolated_store.account.prefix,
        }
    )


@pytest.fixture(scope="module")
def box(oauth_settings: Settings) -> SecretBox:
    return SecretBox(oauth_settings.aes_key())


@pytest.fixture(scope="module")
def session(test_ca: TestCA) -> requests.Session:
    """The service's own session for token endpoints: the test CA, the egress checks."""
    return identity_provider_session(str(test_ca.ca_cert))


@pytest.fixture(scope="module")
def app(oauth_settings: Settings, isolated_store: Store) -> FastAPI:
    return create_app(oauth_settings, lambda: isolated_store)


@pytest.fixture(scope="module")
def context(app: FastAPI) -> ApiContext:
    ctx: ApiContext = app.state.context
    return ctx


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=ADMIN) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def gmail_profile(google_oauth: GoogleOAuthServer, **overrides: Any) -> EmailServerProfile:
    """A Gmail OAuth profile whose identity provider is the local server (mail servers: unused placeholders)."""
    fields: dict[str, Any] = {
        "name": f"Gmail {uuid.uuid4().hex[:6]}",
        "server_type": ServerType.IMAP_SMTP,
        "incoming_server_location": "localhost",
        "outgoing_server_location": "localhost",
        "incoming_credential_retrieval": CredentialRetrieval.GMAIL_OAUTH,
        "incoming_authentication_protocol": AuthenticationProtocol.OAUTH,
        "oauth_authorize_endpoint": google_oauth.authorize_url,
        "oauth_token_endpoint": google_oauth.token_url,
    }
    fields.update(overrides)
    return EmailServerProfile(**fields)


def with_service_account(box: SecretBox, profile: EmailServerProfile, key_file: dict[str, str]) -> None:
    seal_field(box, profile, "google_service_account_key", json.dumps(key_file))


def new_address() -> str:
    return f"g-{uuid.uuid4().hex[:10]}@example.test"
