"""OAuth for the mail servers of the stack: an Entra ID stand-in whose tokens Dovecot and the SMTP server take.

Import the fixtures into a test module (``from tests.integration.mail.oauth_fixtures import ...``). The
stand-in starts once per session; Dovecot and the SMTP server are told to trust its signing keys, as a
mail provider trusts its identity provider's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import Dovecot, SmtpServer, TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.auth.secrets import SecretBox, seal_field
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import CredentialRetrieval, EntityType, ServerType
from sync.model.profile import TlsMode

MAIL_TENANT = "mail-tenant"
STALE_ONCE = "#stale-once#"  # the stand-in's first token for such a secret has expired already


@pytest.fixture(scope="session")
def mail_entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / "mail-entra", test_ca, tenant=MAIL_TENANT) as mock:
        yield mock


@pytest.fixture(scope="session")
def oauth_mail_servers(mail_entra: EntraMock, dovecot: Dovecot, smtp_server: SmtpServer) -> tuple[Dovecot, SmtpServer]:
    """Dovecot and the SMTP server, taking the stand-in's app-only tokens for Exchange Online."""
    keys = mail_entra.jwks()
    dovecot.trust_oauth_keys(keys, [CLIENT_ID])
    smtp_server.trust_oauth_keys(keys)
    return dovecot, smtp_server


def oauth_profile(
    box: SecretBox,
    dovecot: Dovecot,
    smtp: SmtpServer,
    *,
    server_type: ServerType = ServerType.IMAP_SMTP,
    secret: str = CLIENT_SECRET,
    **fields: object,
) -> EmailServerProfile:
    """An app-only OAuth profile (Azure AD OAuth) on the stack's Dovecot and SMTP server."""
    values: dict[str, object] = {
        "name": f"Exchange Online over {server_type.name}",
        "server_type": server_type,
        "incoming_server_location": "localhost",
        "incoming_port": dovecot.imaps_port if server_type is ServerType.IMAP_SMTP else dovecot.pop3s_port,
        "incoming_tls": TlsMode.IMPLICIT,
        "outgoing_server_location": "localhost",
        "outgoing_port": smtp.submission_port,
        "outgoing_tls": TlsMode.STARTTLS,
        "incoming_credential_retrieval": CredentialRetrieval.AZURE_AD_OAUTH,
        "exchange_online_tenant_id": MAIL_TENANT,
        "oauth_client_id": CLIENT_ID,
        "timeout_mailbox_connection_after_ms": 5000,
    }
    values.update(fields)
    profile = EmailServerProfile(**values)
    seal_field(box, profile, "oauth_client_secret", secret)
    return profile


def stale_once_secret() -> str:
    """A client secret of its own (its own token cache) whose first token the mail servers refuse."""
    return f"{CLIENT_SECRET}{STALE_ONCE}{uuid.uuid4().hex}"


def mailbox_of(address: str, profile: EmailServerProfile) -> Mailbox:
    return Mailbox(
        name=f"Mailbox {address}",
        email_address=address,
        owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())),
        email_server_profile_id=profile.id,
    )
