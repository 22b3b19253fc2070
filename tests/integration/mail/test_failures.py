"""How IMAP and POP3 failures reach the caller (Dovecot and Mailutils): typed, classified, without the password."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from devstack import MailServer, TestCA
from devstack.ports import free_port
from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.mail.imap import ImapConnector
from sync.mail.pop3 import Pop3Connector
from sync.mail.port import IncomingConnector
from sync.model.mailbox import FolderWatermark
from tests.integration.mail.conftest import TIMEOUT_S, message_id_of, new_message, settings
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MailUser

pytestmark = pytest.mark.integration

NOTHING = frozenset[str]()
WRONG_PASSWORD = "Wr0ng-Pa55word"
SHORT_TIMEOUT_S = 0.3
PROTOCOLS: dict[str, tuple[Callable[[], IncomingConnector], str, str]] = {
    # name: (connector, plaintext/STARTTLS port attribute, implicit TLS port attribute)
    "imap": (ImapConnector, "imap_port", "imaps_port"),
    "pop3": (Pop3Connector, "pop3_port", "pop3s_port"),
}


def port_of(mail_server: MailServer, protocol: str, *, implicit: bool) -> int:
    _, plain, tls = PROTOCOLS[protocol]
    return int(getattr(mail_server, tls if implicit else plain))


def open_fails(
    protocol: str,
    user: MailUser,
    port: int,
    tls: str,
    *,
    ca: TestCA | None,
    password: str | None = None,
    timeout: float = TIMEOUT_S,
) -> MailServerError:
    connector = PROTOCOLS[protocol][0]()
    with pytest.raises(MailServerError) as raised:
        connector.open(settings(user, port, tls, ca=ca, password=password, timeout=timeout))
    return raised.value


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_password_is_an_authentication_error_without_the_password(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser, protocol: str
) -> None:
    # The only bad-password tests: each costs ~0.5 s in Dovecot.
    error = open_fails(
        protocol,
        server_user,
        port_of(mail_server, protocol, implicit=True),
        "implicit",
        ca=test_ca,
        password=WRONG_PASSWORD,
    )

    assert isinstance(error, MailAuthenticationError)
    assert error.code == "AuthenticationFailed"
    assert WRONG_PASSWORD not in str(error) and WRONG_PASSWORD not in repr(error.__cause__)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nothing_listening_is_transient(test_ca: TestCA, server_user: MailUser, protocol: str) -> None:
    error = open_fails(protocol, server_user, free_port(), "implicit", ca=test_ca)

    assert (type(error), error.code) == (TransientMailError, "ConnectionFailed")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("implicit", [True, False], ids=["implicit", "starttls"])
def test_untrusted_certificate_is_a_permanent_secure_connection_failure(
    mail_server: MailServer, server_user: MailUser, protocol: str, implicit: bool
) -> None:
    tls = "implicit" if implicit else "starttls"
    error = open_fails(protocol, server_user, port_of(mail_server, protocol, implicit=implicit), tls, ca=None)

    assert (type(error), error.code) == (PermanentMailError, "SecureConnectionFailed")
    assert "certificate verify failed" in str(error)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_implicit_tls_to_a_plaintext_port_is_a_secure_connection_failure(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser, protocol: str
) -> None:
    error = open_fails(protocol, server_user, port_of(mail_server, protocol, implicit=False), "implicit", ca=test_ca)

    assert (type(error), error.code) == (PermanentMailError, "SecureConnectionFailed")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plaintext_to_a_tls_port_times_out_after_the_profile_timeout(
    mail_server: MailServer, server_user: MailUser, protocol: str
) -> None:
    """The client waits for a greeting, the server for a TLS hello: only the timeout (R-SCH-11) ends it."""
    error = open_fails(
        protocol, server_user, port_of(mail_server, protocol, implicit=True), "none", ca=None, timeout=SHORT_TIMEOUT_S
    )

    assert (type(error), error.code) == (TransientMailError, "SocketTimedOut")


@pytest.mark.parametrize(("protocol", "other"), [("imap", "pop3"), ("pop3", "imap")])
def test_the_other_protocols_port_is_a_protocol_error(
    mail_server: MailServer, server_user: MailUser, protocol: str, other: str
) -> None:
    error = open_fails(protocol, server_user, port_of(mail_server, other, implicit=False), "none", ca=None)

    assert (type(error), error.code) == (PermanentMailError, "ProtocolError")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_link_cut_mid_fetch_is_transient_and_the_next_session_reads_the_message(
    mail_server: MailServer, server_user: MailUser, proxy: Callable[[int], FlakyProxy], protocol: str
) -> None:
    """The cut lands inside the FETCH literal / RETR body: 200 bytes into a ~20 KB answer."""
    raw, message_id = new_message(server_user.address, body="line of text\n" * 1500)
    mail_server.deliver(server_user.address, raw)
    wire = proxy(port_of(mail_server, protocol, implicit=False))
    plaintext = settings(server_user, wire.port, "none", ca=None, host=wire.host)
    connector = PROTOCOLS[protocol][0]()

    session = connector.open(plaintext)
    try:
        (listed,) = session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
        wire.cut_after(200)
        with pytest.raises(TransientMailError) as raised:
            session.fetch(listed)
    finally:
        session.close()
    again = connector.open(plaintext)
    try:
        body = again.fetch(again.list_new(FolderWatermark(folder="INBOX"), NOTHING)[0])
    finally:
        again.close()

    assert wire.cuts == 1
    assert listed.size > 10_000
    assert raised.value.code == "ConnectionDropped"
    assert message_id_of(body) == message_id
