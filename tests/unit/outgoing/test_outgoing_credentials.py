"""Which endpoint and login a mailbox sends with (R-PROV-8), and what N-12 counts connections per."""

from __future__ import annotations

import os

import pytest

from sync.auth.secrets import SecretBox, seal_field
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.mailboxes.outgoing_credentials import outgoing_endpoint
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import CredentialRetrieval, EntityType, ServerType
from sync.model.profile import TlsMode

BOX = SecretBox(os.urandom(32))


def profile(**fields: object) -> EmailServerProfile:
    values: dict[str, object] = {"name": "SMTP", "server_type": ServerType.IMAP_SMTP}
    values["outgoing_server_location"] = "smtp.x"
    values.update(fields)
    return EmailServerProfile(**values)


def mailbox(password: str | None = "pw", allow: bool = True) -> Mailbox:
    box = Mailbox(
        name="Alice",
        email_address="alice@x.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id="u1"),
        allow_credentials_for_email_processing=allow,
    )
    seal_field(BOX, box, "password", password)
    return box


def test_mailbox_credentials_count_per_mailbox() -> None:
    box = mailbox()
    endpoint = outgoing_endpoint(box, profile(max_concurrent_connections=3), BOX, "/ca.pem")
    assert (endpoint.host, endpoint.port, endpoint.tls, endpoint.auth) == ("smtp.x", 587, "starttls", "password")
    assert (endpoint.username, endpoint.password, endpoint.ca_file) == ("alice@x.test", "pw", "/ca.pem")
    assert (endpoint.scope, endpoint.max_connections) == (f"mailbox:{box.id}", 3)
    assert "'pw'" not in repr(endpoint)


def test_default_ports_follow_tls() -> None:
    assert outgoing_endpoint(mailbox(), profile(outgoing_tls=TlsMode.IMPLICIT), BOX).port == 465
    assert outgoing_endpoint(mailbox(), profile(outgoing_port=2525), BOX).port == 2525


def test_profile_credentials_count_per_profile() -> None:
    p = profile(incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE, incoming_username="svc")
    seal_field(BOX, p, "incoming_password", "secret")
    endpoint = outgoing_endpoint(mailbox(None), p, BOX)
    assert (endpoint.username, endpoint.password, endpoint.scope) == ("svc", "secret", f"profile:{p.id}")


def test_separate_outgoing_settings_when_not_the_same() -> None:
    p = profile(use_same_settings_for_outgoing=False, outgoing_credential_retrieval=CredentialRetrieval.ANONYMOUS)
    assert outgoing_endpoint(mailbox(None), p, BOX).auth == "none"


def test_oauth_needs_a_token_source() -> None:
    p = profile(incoming_credential_retrieval=CredentialRetrieval.AZURE_AD_OAUTH)
    with pytest.raises(MailAuthenticationError, match="no OAuth token source"):
        outgoing_endpoint(mailbox(), p, BOX)

    class Tokens:
        def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
            return "t0k"

    endpoint = outgoing_endpoint(mailbox(), p, BOX, tokens=Tokens())
    assert (endpoint.auth, endpoint.username) == ("xoauth2", "alice@x.test")
    assert endpoint.oauth is not None and endpoint.oauth(False) == "t0k"


def test_what_cannot_send() -> None:
    with pytest.raises(PermanentMailError):
        outgoing_endpoint(mailbox(), profile(outgoing_server_location=None), BOX)
    with pytest.raises(MailAuthenticationError, match="does not allow"):
        outgoing_endpoint(mailbox(allow=False), profile(), BOX)
    with pytest.raises(MailAuthenticationError, match="no username or password"):
        outgoing_endpoint(mailbox(None), profile(), BOX)
    with pytest.raises(PermanentMailError, match="not available"):
        outgoing_endpoint(mailbox(), profile(incoming_credential_retrieval=CredentialRetrieval.WINDOWS_INTEGRATED), BOX)
