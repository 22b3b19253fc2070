"""An admin app on the module's isolated store, with an administrator's (who also approves), a reader's, an
approver's and a plain administrator's API key.

Mailboxes that need a mail server live in the session's Dovecot, with aiosmtpd relaying into it, the same
pattern as the incoming tests' world.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack import Dovecot, SmtpServer, TestCA, free_port
from sync.api.app import create_app
from sync.api.auth import API_KEY_HEADER, new_api_key
from sync.auth.secrets import SecretBox
from sync.model import EmailServerProfile
from sync.model.options import CredentialRetrieval, ServerType
from sync.model.profile import TlsMode
from sync.settings import Settings
from sync.store import Store
from tests.stack_fixtures import MAIL_PASSWORD

ADMIN_KEY, ADMIN_DIGEST = new_api_key()
READER_KEY, READER_DIGEST = new_api_key()
APPROVER_KEY, APPROVER_DIGEST = new_api_key()
PLAIN_ADMIN_KEY, PLAIN_ADMIN_DIGEST = new_api_key()
ADMIN = {API_KEY_HEADER: ADMIN_KEY}
READER = {API_KEY_HEADER: READER_KEY}
APPROVER = {API_KEY_HEADER: APPROVER_KEY}
PLAIN_ADMIN = {API_KEY_HEADER: PLAIN_ADMIN_KEY}


@pytest.fixture(scope="module")
def api_settings(settings: Settings, isolated_store: Store, test_ca: TestCA) -> Settings:
    return settings.model_copy(
        update={
            "api_keys": f"{ADMIN_DIGEST}:admin+approver,{READER_DIGEST}:reader,{APPROVER_DIGEST}:approver,"
            f"{PLAIN_ADMIN_DIGEST}",
            "extra_ca_file": str(test_ca.ca_cert),
            "storage_prefix": isolated_store.account.prefix,
        }
    )


@pytest.fixture(scope="module")
def app(api_settings: Settings, isolated_store: Store) -> FastAPI:
    return create_app(api_settings, lambda: isolated_store)


@pytest.fixture(scope="module")
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def admin(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=ADMIN) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def reader(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, headers=READER) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def box(api_settings: Settings) -> SecretBox:
    return SecretBox(api_settings.aes_key())


@dataclass
class MailWorld:
    store: Store
    dovecot: Dovecot
    smtp: SmtpServer
    profile: EmailServerProfile

    def new_user(
        self, admin: TestClient, *, password: str = MAIL_PASSWORD, profile_id: str | None = None, approve: bool = True
    ) -> str:
        """A Dovecot account and its CRM user, mailbox approved (unless not ``approve``) and given credentials;
        returns the mailbox id."""
        address = f"te-{uuid.uuid4().hex[:10]}@example.test"
        self.dovecot.add_user(address, MAIL_PASSWORD)
        self.smtp.add_user(address, MAIL_PASSWORD)
        user = created(
            admin.post("/api/users", json={"full_name": f"User {address}", "internal_email_address": address})
        )
        mailbox_id = str(user["default_mailbox_id"])
        if approve:
            assert admin.post(f"/api/mailboxes/{mailbox_id}/approve").status_code == 200
        changes = {
            "email_server_profile_id": profile_id or self.profile.id,
            "username": address,
            "password": password,
            "allow_credentials_for_email_processing": True,
        }
        assert admin.patch(f"/api/mailboxes/{mailbox_id}", json=changes).status_code == 200
        return mailbox_id


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def imap_smtp_profile(dovecot: Dovecot, smtp: SmtpServer, **overrides: Any) -> EmailServerProfile:
    fields: dict[str, Any] = {
        "name": "Dovecot + aiosmtpd",
        "server_type": ServerType.IMAP_SMTP,
        "incoming_server_location": "localhost",
        "incoming_port": dovecot.imaps_port,
        "incoming_tls": TlsMode.IMPLICIT,
        "outgoing_server_location": "localhost",
        "outgoing_port": smtp.submission_port,
        "outgoing_tls": TlsMode.STARTTLS,
        "incoming_credential_retrieval": CredentialRetrieval.USER_OR_QUEUE,
        "timeout_mailbox_connection_after_ms": 5000,
    }
    fields.update(overrides)
    return EmailServerProfile(**fields)


@pytest.fixture(scope="module")
def mail_world(isolated_store: Store, dovecot: Dovecot, smtp_server: SmtpServer) -> MailWorld:
    profile = isolated_store.profiles.insert(imap_smtp_profile(dovecot, smtp_server))
    return MailWorld(isolated_store, dovecot, smtp_server, profile)


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A loopback port nothing listens on: an unreachable mail server."""
    return free_port()
