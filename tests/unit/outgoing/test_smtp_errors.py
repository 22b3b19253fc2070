"""SMTP failures typed at the boundary (R-OUT-16), and the DATA framing."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.outgoing.smtp import _dot_stuffed, map_smtp_error


def typed(exc: BaseException) -> MailServerError:
    mapped = map_smtp_error(exc, "SMTP host:587", "login")
    assert mapped is not None
    return mapped


AUTH = "OutgoingEmailAuthenticationError"
FAILURES = [
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted"), MailAuthenticationError, AUTH),
    (smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary failure"), TransientMailError, "ConnectFailure"),
    (smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server."), MailAuthenticationError, AUTH),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TransientMailError, "ConnectionDropped"),
    (smtplib.SMTPConnectError(421, b"4.3.2 Service not available"), TransientMailError, "ConnectFailure"),
    (smtplib.SMTPConnectError(554, b"5.3.2 No service"), PermanentMailError, "SmtpProtocolError"),
    (ConnectionRefusedError(111, "Connection refused"), TransientMailError, "ConnectionFailed"),
    (TimeoutError("timed out"), TransientMailError, "SocketTimedOut"),
    (ssl.SSLCertVerificationError("certificate verify failed"), PermanentMailError, "SecureConnectionFailed"),
]


@pytest.mark.parametrize(("exc", "kind", "code"), FAILURES)
def test_failures_are_typed(exc: BaseException, kind: type[MailServerError], code: str) -> None:
    mapped = typed(exc)
    assert type(mapped) is kind and mapped.code == code


def test_anything_else_is_not_a_mail_error() -> None:
    assert map_smtp_error(ValueError("a bug"), "SMTP", "session") is None


def test_data_is_dot_stuffed_and_terminated() -> None:
    assert _dot_stuffed(b"a\r\n.b\r\n..c\r\n") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert _dot_stuffed(b"no newline") == b"no newline\r\n.\r\n"
