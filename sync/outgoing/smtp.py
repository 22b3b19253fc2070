"""SMTP outgoing connector (smtplib): implicit TLS or STARTTLS, AUTH PLAIN/LOGIN, or XOAUTH2 / OAUTHBEARER.

Errors are typed here, at the boundary (``sync/mail/errors.py``): socket, DNS and TLS failures as the
incoming connectors type them (``sync/mail/transport.py``); refused credentials as
``OutgoingEmailAuthenticationError`` (R-OUT-16), except ``454``, a temporary refusal; other refusals
of the connection by their first digit. Replies to MAIL, RCPT and DATA are values, not errors
(:class:`~sync.outgoing.port.Transmission`): the state machine decides per recipient.

A transmission runs the commands one by one (no pipelining) so that it can stop before DATA; the end of
the message is written with one ``sendall``: if that raises, the final ``.`` did not leave, and the
server drops the transaction (nothing delivered). Only a failure while reading the answer to the final
``.`` leaves the delivery unknown (:class:`~sync.outgoing.port.DeliveryStatusUnknown`, RFC 1047).
"""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache

from sync.mail import egress, sasl
from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.mail.transport import Stage, client_tls_context, map_network_error, redact, typed_errors
from sync.model.address_syntax import is_mailbox
from sync.outgoing.port import BeforeData, DeliveryStatusUnknown, Envelope, SmtpEndpoint, Transmission
from sync.outgoing.replies import SmtpReply

AUTH_ERROR_CODE = "OutgoingEmailAuthenticationError"  # R-OUT-16, spec §2.15.1
DEFAULT_TIMEOUT_SECONDS = 60.0
TEMPORARY_AUTH_FAILURE = 454  # "454 4.7.0 Temporary authentication failure": try again later
START_MAIL_INPUT = 354
NOT_A_MAILBOX = 553  # RFC 5321 "mailbox name not allowed", answered locally for an address never sent
PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")  # in order of preference; CRAM-MD5 and friends are not used
_LINE_START_DOT = re.compile(rb"(?m)^\.")


@cache
def local_hostname() -> str:
    """The name sent in EHLO, looked up once per process (smtplib would ask DNS on every connection)."""
    return socket.getfqdn() or "localhost"


def map_smtp_error(exc: BaseException, where: str, stage: Stage) -> MailServerError | None:
    """Type an smtplib or network failure; ``None`` for anything else (a bug)."""
    refused = isinstance(exc, smtplib.SMTPAuthenticationError) and exc.smtp_code != TEMPORARY_AUTH_FAILURE
    if refused or isinstance(exc, smtplib.SMTPNotSupportedError):  # wrong credentials, or AUTH not offered
        return MailAuthenticationError(f"{where}: credentials refused: {_describe(exc)}", code=AUTH_ERROR_CODE)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientMailError(f"{where}: connection dropped: {exc}", code="ConnectionDropped")
    if isinstance(exc, smtplib.SMTPResponseException):  # greeting, EHLO, STARTTLS, a temporary AUTH refusal
        if 400 <= exc.smtp_code < 500:
            return TransientMailError(f"{where}: server busy: {_text(exc)}", code="ConnectFailure")
        return PermanentMailError(f"{where}: server refused: {_text(exc)}", code="SmtpProtocolError")
    if isinstance(exc, smtplib.SMTPException):
        return PermanentMailError(f"{where}: {exc}", code="SmtpProtocolError")
    return map_network_error(exc, where)


class SmtpConnector:
    """Opens authenticated SMTP sessions; an OAuth login uses the first of ``sasl_preference`` EHLO offers."""

    def __init__(self, sasl_preference: tuple[str, ...] = sasl.PREFERENCE) -> None:
        self.sasl_preference = sasl_preference

    def open(self, endpoint: SmtpEndpoint) -> SmtpSession:
        where = f"SMTP {endpoint.host}:{endpoint.port}"
        if endpoint.auth == "xoauth2":
            sasl.check_encrypted(endpoint.tls, where)
        timeout = endpoint.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
        client: smtplib.SMTP | None = None
        try:
            with typed_errors(map_smtp_error, where, endpoint.secret, "connect"):
                if endpoint.tls == "implicit":
                    context = client_tls_context(endpoint.ca_file)
                    client = egress.CheckedSMTPSSL(
                        endpoint.host, endpoint.port, local_hostname(), timeout=timeout, context=context
                    )
                else:
                    client = egress.CheckedSMTP(endpoint.host, endpoint.port, local_hostname(), timeout=timeout)
                client.ehlo()
                if endpoint.tls == "starttls":
                    if not client.has_extn("starttls"):
                        raise PermanentMailError(f"{where}: the server does not offer STARTTLS", code="NoStartTls")
                    client.starttls(context=client_tls_context(endpoint.ca_file))
                    client.ehlo()
            if endpoint.auth == "xoauth2":
                secret = self._bearer_login(client, endpoint, where)
            else:
                secret = endpoint.secret
                with typed_errors(map_smtp_error, where, secret, "login"):
                    _authenticate(client, endpoint, where)
        except BaseException:
            if client is not None:
                _close(client)
            raise
        return SmtpSession(client, where, secret)

    def _bearer_login(self, client: smtplib.SMTP, endpoint: SmtpEndpoint, where: str) -> str:
        if endpoint.oauth is None:
            raise MailAuthenticationError(f"{where}: OAuth login without a token source", code=AUTH_ERROR_CODE)
        login = BearerLogin(endpoint.username or "", endpoint.host, endpoint.port, endpoint.oauth, self.sasl_preference)
        return login(client, where)


@dataclass(frozen=True)
class BearerLogin:
    """AUTH XOAUTH2 / OAUTHBEARER (whichever EHLO offers first in ``preference``) on an smtplib client.

    A refused token is replaced once (``sync/mail/sasl.py``); returns the token that logged in.
    """

    user: str
    host: str
    port: int
    fetch: Callable[[bool], str] = field(repr=False)
    preference: tuple[str, ...] = sasl.PREFERENCE

    def __call__(self, client: smtplib.SMTP, where: str) -> str:
        client.ehlo_or_helo_if_needed()
        offered = client.esmtp_features.get("auth", "").upper().split()
        mechanism = sasl.choose_mechanism(offered, self.preference)
        if mechanism is None:
            raise sasl.no_mechanism_error(where, offered)

        def attempt(token: str) -> str:
            exchange = sasl.BearerExchange(mechanism, self.user, token, self.host, self.port)
            with typed_errors(map_smtp_error, where, token, "login"):
                try:
                    client.auth(mechanism, lambda challenge=None: exchange(challenge).decode("utf-8"))
                except smtplib.SMTPAuthenticationError as exc:
                    if exc.smtp_code != TEMPORARY_AUTH_FAILURE:
                        raise exchange.refused(_text(exc)) from None
                    raise
            return token

        return sasl.login_with_token(self.fetch, attempt, where)


class SmtpSession:
    def __init__(self, client: smtplib.SMTP, where: str, secret: str) -> None:
        self.client = client
        self.where = where
        self.secret = secret
        self._usable = True

    @property
    def usable(self) -> bool:
        return self._usable and self.client.sock is not None

    def transmit(self, envelope: Envelope, before_data: BeforeData) -> Transmission:
        client = self.client
        with self._typed():
            options = []
            if envelope.smtputf8:
                if not client.has_extn("smtputf8"):
                    return Transmission(SmtpReply(553, "5.6.7 the server does not accept UTF-8 addresses (SMTPUTF8)"))
                options.append("SMTPUTF8")
            if client.has_extn("size"):
                options.append(f"SIZE={len(envelope.data)}")
            mail = _path_command(client, "mail", envelope.mail_from, options)
            if not 200 <= mail.code < 300:
                self._reset()
                return Transmission(mail)
            rcpt = {address: _path_command(client, "rcpt", address) for address in envelope.rcpt_tos}
            if not any(200 <= reply.code < 300 for reply in rcpt.values()):
                self._reset()
                return Transmission(mail, rcpt)
        if not before_data(rcpt):  # outside the typing: the caller's own errors pass as they are
            with self._typed():
                self._reset()
            return Transmission(mail, rcpt, declined=True)
        with self._typed():
            data_reply = SmtpReply(*_reply(client.docmd("DATA")))
            if data_reply.code != START_MAIL_INPUT:
                self._reset()
                return Transmission(mail, rcpt, data_reply)
            client.send(_dot_stuffed(envelope.data))  # a failure here: the final "." never left
        try:
            final = SmtpReply(*_reply(client.getreply()))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._usable = False
            message = redact(f"{self.where}: no answer after the message was sent: {exc}", self.secret)
            raise DeliveryStatusUnknown(message) from exc
        if not 200 <= final.code < 300:
            self._reset()
        return Transmission(mail, rcpt, final)

    def close(self) -> None:
        self._usable = False
        _close(self.client)

    @contextmanager
    def _typed(self) -> Iterator[None]:
        """Typed errors, and a connection that failed is not reused."""
        try:
            with typed_errors(map_smtp_error, self.where, self.secret, "session"):
                yield
        except BaseException:
            self._usable = False
            raise

    def _reset(self) -> None:
        """RSET after a refusal; a server that hangs up on RSET only costs the connection (Nylas' lesson)."""
        try:
            self.client.rset()
        except (smtplib.SMTPException, OSError):
            self._usable = False


def _authenticate(client: smtplib.SMTP, endpoint: SmtpEndpoint, where: str) -> None:
    if endpoint.auth == "none":
        return
    offered = client.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in PASSWORD_MECHANISMS if m in offered), None)
    if mechanism is None:
        raise MailAuthenticationError(
            f"{where}: the server offers no AUTH PLAIN or LOGIN (offered: {' '.join(offered) or 'none'})",
            code=AUTH_ERROR_CODE,
        )
    client.user, client.password = endpoint.username or "", endpoint.password or ""
    client.auth(mechanism, client.auth_plain if mechanism == "PLAIN" else client.auth_login)


def _path_command(client: smtplib.SMTP, verb: str, address: str, options: Sequence[str] = ()) -> SmtpReply:
    """``MAIL FROM:<address>`` or ``RCPT TO:<address>`` with the address exactly as checked.

    smtplib's ``mail``/``rcpt`` parse the address again as a header (``email.utils.parseaddr``), which reads
    ``postmaster,x@evil.test`` as a list and sent ``RCPT TO:<postmaster>``: the envelope must be the checked
    addresses of the headers, so the command is written here. An address that is not a mailbox is not sent.
    """
    if not is_mailbox(address):
        return SmtpReply(NOT_A_MAILBOX, "5.1.3 not a valid mailbox address; not sent to the server")
    if "smtputf8" in (option.lower() for option in options):
        client.command_encoding = "utf-8"  # as smtplib's mail() does: UTF-8 addresses on the wire
    suffix = "".join(f" {option}" for option in options) if options and client.does_esmtp else ""
    client.putcmd(verb, f"{'FROM' if verb == 'mail' else 'TO'}:<{address}>{suffix}")
    return SmtpReply(*_reply(client.getreply()))


def _dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 §4.5.2: a leading "." is doubled; the message ends with CRLF "." CRLF."""
    body = _LINE_START_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body + b".\r\n"


def _reply(answer: tuple[int, bytes]) -> tuple[int, str]:
    code, text = answer
    return code, " ".join(text.decode("utf-8", "replace").split())[:400]


def _describe(exc: BaseException) -> str:
    return _text(exc) if isinstance(exc, smtplib.SMTPResponseException) else str(exc)


def _text(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return f"{exc.smtp_code} {' '.join(text.split())}"


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
