"""App-only OAuth logins (R-PROV-8) against the real servers: Dovecot's oauth2 passdb and the SMTP server
validate the Entra ID stand-in's JWTs; tokens come from the production source (MSAL, sealed cache in Azurite).

Covers SASL XOAUTH2 and OAUTHBEARER for IMAP, POP3 and SMTP; a token the server stops taking is replaced
once; a token for the wrong audience is a credentials error with the server's words; no token in any message.
"""

from __future__ import annotations

import logging
import uuid
from email.message import EmailMessage
from typing import Any

import pytest

from devstack import Dovecot, SmtpServer, TestCA
from devstack.entra import EntraMock
from sync.auth.mail_tokens import MICROSOFT, MailTokenSources
from sync.auth.microsoft_mail_tokens import MicrosoftAppTokens
from sync.auth.secrets import SecretBox
from sync.auth.tokens import TOKEN_REQUESTS, TokenProvider
from sync.mail.errors import MailAuthenticationError, SecureConnectionRequired
from sync.mail.imap import ImapConnector
from sync.mail.pop3 import Pop3Connector
from sync.mail.sasl import OAUTHBEARER, XOAUTH2
from sync.mailboxes.credentials import incoming_connection
from sync.mailboxes.outgoing_credentials import outgoing_endpoint
from sync.model import EmailServerProfile, Mailbox
from sync.model.mailbox import FolderWatermark
from sync.model.options import ServerType
from sync.model.profile import TlsMode
from sync.outgoing.port import Envelope
from sync.outgoing.smtp import SmtpConnector
from sync.store import Store
from tests.integration.mail.oauth_fixtures import (  # noqa: F401 - fixtures
    mail_entra,
    mailbox_of,
    oauth_mail_servers,
    oauth_profile,
    stale_once_secret,
)
from tests.stack_fixtures import MailUser

pytestmark = pytest.mark.integration

MECHANISMS = (XOAUTH2, OAUTHBEARER)
PROTOCOLS = ("imap", "pop3", "smtp")


def _provider(store: Store, box: SecretBox, entra: EntraMock, ca: TestCA) -> TokenProvider:
    return TokenProvider(store.token_cache, box, entra.authority, str(ca.ca_cert))


def _login(
    protocol: str,
    mechanism: str,
    mailbox: Mailbox,
    profile: EmailServerProfile,
    box: SecretBox,
    tokens: MailTokenSources,
    ca: TestCA,
) -> None:
    """Log in as the production code does for ``profile``, with ``mechanism`` only, and do one command."""
    if protocol == "smtp":
        endpoint = outgoing_endpoint(mailbox, profile, box, str(ca.ca_cert), tokens)
        session = SmtpConnector((mechanism,)).open(endpoint)
        try:
            address = mailbox.email_address or ""
            sent = session.transmit(Envelope(address, (address,), _message(address)), lambda _replies: True)
            assert sent.delivered
        finally:
            session.close()
        return
    connector = ImapConnector((mechanism,)) if protocol == "imap" else Pop3Connector((mechanism,))
    with connector.open(incoming_connection(mailbox, profile, box, str(ca.ca_cert), tokens)) as inbox:
        inbox.list_new(FolderWatermark(folder="INBOX"), frozenset())


def _message(address: str) -> bytes:
    message = EmailMessage()
    message["From"] = message["To"] = address
    message["Subject"] = "OAuth login test"
    message["Message-ID"] = f"<{uuid.uuid4().hex}@oauth.test>"
    message.set_content("sent with an app-only token\n")
    return message.as_bytes().replace(b"\n", b"\r\n")


def _setup(
    protocol: str, box: SecretBox, servers: tuple[Dovecot, SmtpServer], user: MailUser, **fields: Any
) -> tuple[Mailbox, EmailServerProfile]:
    dovecot, smtp = servers
    server_type = ServerType.POP3_SMTP if protocol == "pop3" else ServerType.IMAP_SMTP
    profile = oauth_profile(box, dovecot, smtp, server_type=server_type, **fields)
    return mailbox_of(user.address, profile), profile


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_app_only_token_logs_in(
    protocol: str,
    mechanism: str,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    mail_user: MailUser,
    store: Store,
    secret_box: SecretBox,
    test_ca: TestCA,
) -> None:
    mailbox, profile = _setup(protocol, secret_box, oauth_mail_servers, mail_user)
    tokens = MailTokenSources(
        {MICROSOFT: MicrosoftAppTokens(_provider(store, secret_box, mail_entra, test_ca), secret_box)}
    )
    _login(protocol, mechanism, mailbox, profile, secret_box, tokens, test_ca)
    if protocol == "smtp":
        assert (mechanism, mail_user.address) in oauth_mail_servers[1].logins


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_token_the_server_stopped_taking_is_replaced_once(
    protocol: str,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    mail_user: MailUser,
    store: Store,
    secret_box: SecretBox,
    test_ca: TestCA,
) -> None:
    """The cached token looks good for an hour, but the server says it has expired: one new token, one retry."""
    mailbox, profile = _setup(protocol, secret_box, oauth_mail_servers, mail_user, secret=stale_once_secret())
    provider = _provider(store, secret_box, mail_entra, test_ca)
    tokens = MailTokenSources({MICROSOFT: MicrosoftAppTokens(provider, secret_box)})
    _login(protocol, XOAUTH2, mailbox, profile, secret_box, tokens, test_ca)
    assert provider.counter.total(TOKEN_REQUESTS) == 2  # the stale one, then its replacement
    _login(protocol, OAUTHBEARER, mailbox, profile, secret_box, tokens, test_ca)
    assert provider.counter.total(TOKEN_REQUESTS) == 2  # the replacement was cached: the next cycle uses it


@pytest.mark.parametrize(
    ("protocol", "code", "servers_words"),
    [
        ("imap", "OAuthTokenRejected", "[AUTHENTICATIONFAILED] Authentication failed. (status 401"),
        ("pop3", "OAuthTokenRejected", "-ERR [AUTH] Authentication failed. (status 401"),
        ("smtp", "OAuthTokenScopeRejected", "535 5.7.8 Authentication unsuccessful: token is not valid for audience"),
    ],
)
def test_a_token_for_another_audience_is_refused_with_the_servers_words(
    protocol: str,
    code: str,
    servers_words: str,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    mail_user: MailUser,
    store: Store,
    secret_box: SecretBox,
    test_ca: TestCA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A profile whose token audience is Graph: the mail server refuses it; a credentials error, no token shown."""
    mailbox, profile = _setup(
        protocol, secret_box, oauth_mail_servers, mail_user, aad_resource_id="https://graph.microsoft.com"
    )
    tokens = MailTokenSources(
        {MICROSOFT: MicrosoftAppTokens(_provider(store, secret_box, mail_entra, test_ca), secret_box)}
    )
    caplog.set_level(logging.DEBUG)
    with pytest.raises(MailAuthenticationError) as refused:
        _login(protocol, XOAUTH2, mailbox, profile, secret_box, tokens, test_ca)
    assert refused.value.code == code
    assert servers_words in str(refused.value)
    token = tokens.token(mailbox, profile)  # the one refused, from the cache
    signature = token.rsplit(".", 1)[1]
    assert signature not in str(refused.value) and signature not in caplog.text


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_token_is_never_sent_over_an_unencrypted_connection(
    protocol: str,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    mail_user: MailUser,
    secret_box: SecretBox,
    test_ca: TestCA,
) -> None:
    """The servers would take it in the clear: the connector refuses before connecting, asking for no token."""
    dovecot, smtp = oauth_mail_servers
    plaintext = {"incoming_port": dovecot.pop3_port if protocol == "pop3" else dovecot.imap_port}
    plaintext |= {"incoming_tls": TlsMode.NONE, "outgoing_port": smtp.submission_port, "outgoing_tls": TlsMode.NONE}
    plaintext["allow_plaintext"] = True  # the profile allows it; a token still is not sent
    mailbox, profile = _setup(protocol, secret_box, oauth_mail_servers, mail_user, **plaintext)
    asked: list[bool] = []

    class Tokens:
        def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
            asked.append(force_refresh)
            return "never-sent"

    tokens = MailTokenSources({MICROSOFT: Tokens()})
    with pytest.raises(SecureConnectionRequired, match="only over an encrypted connection"):
        _login(protocol, XOAUTH2, mailbox, profile, secret_box, tokens, test_ca)
    assert asked == []
