"""The error mapping at the IMAP/POP3 boundary: library exceptions in, typed mail errors out (pure, no server)."""

from __future__ import annotations

import errno
import imaplib
import poplib
import socket
import ssl

import pytest
from imapclient.exceptions import CapabilityError, LoginError

from sync.mail.errors import (
    MailAuthenticationError,
    MailServerError,
    PermanentMailError,
    SecureConnectionRequired,
    TransientMailError,
)
from sync.mail.imap import map_imap_error
from sync.mail.pop3 import map_pop3_error
from sync.mail.transport import ErrorMapper, Stage, map_network_error, typed_errors

WHERE = "IMAP mail.example.test:993"
Expected = tuple[type[MailServerError], str]


def login_error_caused_by(cause: Exception) -> LoginError:
    """What IMAPClient raises when LOGIN fails: ``LoginError(str(e))`` raised while handling ``cause``."""
    error = LoginError(str(cause))
    error.__context__ = cause  # what raising inside ``except`` sets; IMAPClient adds no ``from``
    return error


def classify(error: MailServerError | None) -> Expected | None:
    return None if error is None else (type(error), error.code)


# --- socket, DNS and TLS: the same for both protocols -----------------------------------------------

NETWORK_CASES: list[tuple[BaseException, Expected]] = [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), (PermanentMailError, "HostNotFound")),
    (
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
        (TransientMailError, "HostLookupFailed"),
    ),
    (ssl.SSLCertVerificationError(1, "certificate verify failed"), (PermanentMailError, "SecureConnectionFailed")),
    (
        ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        (PermanentMailError, "SecureConnectionFailed"),
    ),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), (TransientMailError, "ConnectionDropped")),
    (ssl.SSLZeroReturnError(6, "TLS/SSL connection has been closed"), (TransientMailError, "ConnectionDropped")),
    (TimeoutError("timed out"), (TransientMailError, "SocketTimedOut")),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), (TransientMailError, "ConnectionFailed")),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), (TransientMailError, "ConnectionDropped")),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), (TransientMailError, "ConnectionDropped")),
    (OSError(errno.ENETUNREACH, "Network is unreachable"), (TransientMailError, "ConnectionFailed")),
]


@pytest.mark.parametrize(("exc", "expected"), NETWORK_CASES, ids=lambda v: type(v).__name__)
def test_network_failure(exc: BaseException, expected: Expected) -> None:
    assert classify(map_network_error(exc, WHERE)) == expected


@pytest.mark.parametrize("mapper", [map_imap_error, map_pop3_error], ids=["imap", "pop3"])
@pytest.mark.parametrize(("exc", "expected"), NETWORK_CASES, ids=lambda v: type(v).__name__)
def test_both_protocols_classify_network_failures_alike(
    mapper: ErrorMapper, exc: BaseException, expected: Expected
) -> None:
    assert classify(mapper(exc, WHERE, "session")) == expected


def test_socket_timeout_says_timed_out_like_the_dynamics_alert() -> None:
    assert str(map_network_error(TimeoutError("timed out"), WHERE)).startswith(f"{WHERE}: socket timed out")


@pytest.mark.parametrize("mapper", [map_imap_error, map_pop3_error], ids=["imap", "pop3"])
def test_not_a_mail_failure_is_left_alone(mapper: ErrorMapper) -> None:
    assert mapper(KeyError("bug"), WHERE, "session") is None


# --- IMAP ------------------------------------------------------------------------------------------

IMAP_CASES: list[tuple[BaseException, Stage, Expected]] = [
    (
        LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"),
        "login",
        (MailAuthenticationError, "AuthenticationFailed"),
    ),
    (LoginError("b'Login failed.'"), "login", (MailAuthenticationError, "AuthenticationFailed")),
    (
        login_error_caused_by(imaplib.IMAP4.abort("command: LOGIN => socket error: EOF")),
        "login",
        (TransientMailError, "ConnectionDropped"),
    ),
    (
        LoginError("b'[UNAVAILABLE] Temporary authentication failure.'"),
        "login",
        (TransientMailError, "ServerUnavailable"),
    ),
    (
        LoginError("b'[PRIVACYREQUIRED] Plaintext authentication disallowed.'"),
        "login",
        (SecureConnectionRequired, "SecureConnectionRequired"),  # not wrong credentials
    ),
    (
        CapabilityError("Server does not support STARTTLS capability"),
        "connect",
        (PermanentMailError, "StartTlsNotSupported"),
    ),
    (imaplib.IMAP4.abort("socket error: EOF"), "session", (TransientMailError, "ConnectionDropped")),
    (imaplib.IMAP4.readonly("INBOX is not writable"), "session", (PermanentMailError, "MailboxReadOnly")),
    (
        imaplib.IMAP4.abort("command: FETCH => socket error: unterminated line"),
        "session",
        (TransientMailError, "ConnectionDropped"),
    ),
    (
        imaplib.IMAP4.error("fetch failed: [SERVERBUG] Internal error"),
        "session",
        (TransientMailError, "ServerUnavailable"),
    ),
    (
        imaplib.IMAP4.error("select failed: Mailbox doesn't exist: INBOX"),
        "session",
        (TransientMailError, "ServerError"),
    ),
    (imaplib.IMAP4.error(None), "connect", (PermanentMailError, "ProtocolError")),  # "+OK" greeting: a POP3 port
]


@pytest.mark.parametrize(("exc", "stage", "expected"), IMAP_CASES, ids=lambda v: str(v)[:40])
def test_imap_failure(exc: BaseException, stage: Stage, expected: Expected) -> None:
    assert classify(map_imap_error(exc, WHERE, stage)) == expected


def test_imap_message_names_the_server_and_the_answer() -> None:
    error = map_imap_error(LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"), WHERE, "login")
    assert str(error) == f"{WHERE}: login refused: [AUTHENTICATIONFAILED] Authentication failed."


# --- POP3 ------------------------------------------------------------------------------------------

POP3_CASES: list[tuple[BaseException, Stage, Expected]] = [
    (poplib.error_proto("-ERR EOF"), "session", (TransientMailError, "ConnectionDropped")),
    (
        poplib.error_proto(b"-ERR [AUTH] Authentication failed."),
        "login",
        (MailAuthenticationError, "AuthenticationFailed"),
    ),
    (poplib.error_proto(b"-ERR Invalid login or password"), "login", (MailAuthenticationError, "AuthenticationFailed")),
    (
        poplib.error_proto(b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."),
        "login",
        (SecureConnectionRequired, "SecureConnectionRequired"),  # Dovecot's words: not wrong credentials
    ),
    (poplib.error_proto(b"-ERR [SYS/TEMP] Internal error"), "login", (TransientMailError, "ServerUnavailable")),
    (poplib.error_proto(b"-ERR [IN-USE] Mailbox is locked"), "login", (TransientMailError, "ServerUnavailable")),
    (poplib.error_proto(b"-ERR [LOGIN-DELAY] Wait 60 s"), "login", (TransientMailError, "ServerUnavailable")),
    (poplib.error_proto(b"-ERR [SYS/PERM] Mailbox is corrupt"), "login", (PermanentMailError, "ServerRefused")),
    (poplib.error_proto(b"-ERR Message 7 does not exist"), "session", (TransientMailError, "ServerError")),
    (poplib.error_proto(b"-ERR Too many connections"), "connect", (TransientMailError, "ServerError")),
    (poplib.error_proto("-ERR STLS not supported by server"), "connect", (PermanentMailError, "StartTlsNotSupported")),
    (poplib.error_proto("-ERR CAPA not supported by server"), "connect", (PermanentMailError, "StartTlsNotSupported")),
    (
        poplib.error_proto(b"* OK [CAPABILITY IMAP4rev1] Dovecot ready."),
        "connect",
        (PermanentMailError, "ProtocolError"),
    ),
    (poplib.error_proto("line too long"), "session", (PermanentMailError, "ProtocolError")),
]


@pytest.mark.parametrize(("exc", "stage", "expected"), POP3_CASES, ids=lambda v: str(v)[:40])
def test_pop3_failure(exc: BaseException, stage: Stage, expected: Expected) -> None:
    assert classify(map_pop3_error(exc, WHERE, stage)) == expected


def test_pop3_message_decodes_the_server_line() -> None:
    error = map_pop3_error(poplib.error_proto(b"-ERR [AUTH] Authentication failed."), "POP3 h:995", "login")
    assert str(error) == "POP3 h:995: login refused: -ERR [AUTH] Authentication failed."


# --- the boundary itself ---------------------------------------------------------------------------


def echoing_mapper(exc: BaseException, where: str, stage: Stage) -> MailServerError | None:
    """A server that echoes what it got, password included."""
    return PermanentMailError(f"{where}: {exc}", code="Echo") if isinstance(exc, ValueError) else None


def test_boundary_removes_the_password_from_the_message() -> None:
    with pytest.raises(PermanentMailError) as raised, typed_errors(echoing_mapper, WHERE, "hunter2"):
        raise ValueError("LOGIN alice hunter2")
    assert "hunter2" not in str(raised.value)


def test_boundary_keeps_class_code_and_cause() -> None:
    original = ValueError("boom")
    with pytest.raises(PermanentMailError) as raised, typed_errors(echoing_mapper, WHERE, "pw"):
        raise original
    assert (raised.value.code, raised.value.__cause__) == ("Echo", original)


def test_boundary_lets_typed_errors_through_unchanged() -> None:
    typed = TransientMailError("already typed", code="MessageNotFound")
    with pytest.raises(TransientMailError) as raised, typed_errors(echoing_mapper, WHERE, "pw"):
        raise typed
    assert raised.value is typed


def test_boundary_lets_bugs_through_unchanged() -> None:
    with pytest.raises(KeyError), typed_errors(echoing_mapper, WHERE, "pw"):
        raise KeyError("bug")
