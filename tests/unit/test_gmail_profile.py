"""The Gmail profile's defaults, Google's "OAuth only" rule and POP3 recent mode (R-PROV-16) — pure."""

from __future__ import annotations

import pytest

from sync.auth.mail_tokens import MailTokenSources
from sync.auth.secrets import SecretBox
from sync.mailboxes.credentials import incoming_connection
from sync.mailboxes.gmail import gmail_defaults, is_google_mail_host, password_login_refusal, pop3_login_name
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import AuthenticationProtocol, CredentialRetrieval, EntityType, ServerType
from sync.model.profile import TlsMode


def gmail(server_type: ServerType = ServerType.IMAP_SMTP) -> EmailServerProfile:
    return EmailServerProfile(name="Gmail", **gmail_defaults(server_type))


def test_imap_defaults_are_googles_servers_and_ports_with_oauth() -> None:
    profile = gmail()
    assert (profile.incoming_server_location, profile.incoming_port, profile.incoming_tls) == (
        "imap.gmail.com",
        993,
        TlsMode.IMPLICIT,
    )
    assert (profile.outgoing_server_location, profile.outgoing_port, profile.outgoing_tls) == (
        "smtp.gmail.com",
        587,
        TlsMode.STARTTLS,
    )
    assert profile.incoming_credential_retrieval is CredentialRetrieval.GMAIL_OAUTH
    assert profile.incoming_authentication_protocol is AuthenticationProtocol.OAUTH
    assert not profile.pop3_recent_mode


def test_pop3_defaults_use_port_995_and_recent_mode() -> None:
    profile = gmail(ServerType.POP3_SMTP)
    assert (profile.incoming_server_location, profile.incoming_port) == ("pop.gmail.com", 995)
    assert profile.pop3_recent_mode


def test_a_gmail_profile_is_imap_or_pop3() -> None:
    with pytest.raises(ValueError, match="imap_smtp or pop3_smtp"):
        gmail_defaults(ServerType.EXCHANGE_ONLINE)


@pytest.mark.parametrize(
    ("host", "google"),
    [
        ("imap.gmail.com", True),
        ("SMTP.GMAIL.COM.", True),
        ("pop.googlemail.com", True),
        ("gmail.com.example.test", False),
        ("notgmail.com", False),
        (None, False),
    ],
)
def test_google_mail_hosts(host: str | None, google: bool) -> None:
    assert is_google_mail_host(host) is google


def test_a_password_login_to_google_is_refused_and_oauth_is_not() -> None:
    with_password = gmail().model_copy(
        update={
            "incoming_credential_retrieval": CredentialRetrieval.USER_OR_QUEUE,
            "incoming_authentication_protocol": AuthenticationProtocol.BASIC,
        }
    )
    assert "OAuth only" in (password_login_refusal(with_password) or "")
    assert password_login_refusal(gmail()) is None
    elsewhere = with_password.model_copy(
        update={"incoming_server_location": "imap.example.test", "outgoing_server_location": "smtp.example.test"}
    )
    assert password_login_refusal(elsewhere) is None


def test_recent_mode_prefixes_the_pop3_login_once() -> None:
    pop3 = gmail(ServerType.POP3_SMTP)
    assert pop3_login_name(pop3, "alice@example.test") == "recent:alice@example.test"
    assert pop3_login_name(pop3, "recent:alice@example.test") == "recent:alice@example.test"
    assert pop3_login_name(pop3.model_copy(update={"pop3_recent_mode": False}), "a@x.test") == "a@x.test"
    imap = gmail().model_copy(update={"pop3_recent_mode": True})
    assert pop3_login_name(imap, "a@x.test") == "a@x.test"  # IMAP has no recent mode


def test_a_gmail_pop3_mailbox_logs_in_as_recent_address_and_imap_as_the_address() -> None:
    mailbox = Mailbox(
        name="Alice",
        email_address="alice@example.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id="u1"),
    )
    box = SecretBox(b"k" * 32)
    tokens = MailTokenSources({})  # not asked: the token is fetched when the connection logs in

    pop3 = incoming_connection(mailbox, gmail(ServerType.POP3_SMTP), box, tokens=tokens)
    imap = incoming_connection(mailbox, gmail(), box, tokens=tokens)

    assert pop3.username == "recent:alice@example.test"
    assert imap.username == "alice@example.test"
