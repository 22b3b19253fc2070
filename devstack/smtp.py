"""An SMTP submission server (aiosmtpd) that records what it accepts.

Two listeners share one record: a submission port that requires STARTTLS before AUTH
and an implicit-TLS port. Both take passwords (PLAIN, LOGIN) and OAuth bearer tokens (XOAUTH2, OAUTHBEARER)
validated as JWTs with the keys of the identity providers the server is told to trust (``trust_oauth_keys``).
Tests prove exactly-once delivery by counting recorded messages per Message-ID; with ``relay_to_lmtp`` each
accepted message also lands in Dovecot, so a test can follow it from SMTP to IMAP/POP3.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import logging
import smtplib
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from devstack.certs import SERVER_HOSTNAME, TestCA
from devstack.oauth_trust import BearerValidator, TokenRefused, parse_bearer_response
from devstack.ports import LOOPBACK, free_ports

READY_TIMEOUT_S = 10.0  # aiosmtpd's default of 1 s is tight on a busy 2-core runner
RELAY_TIMEOUT_S = 10.0
AUTH_MECHANISMS = ("PLAIN", "LOGIN")
OAUTH_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")
AUTH_LINE_LIMIT = 12288  # RFC 4954 §4: an AUTH line with a bearer token is far longer than 512 octets
OK = "250 2.0.0 Message accepted"
TEMP_FAILURE = "451 4.3.0 Relay to mailbox failed, try again later"
# aiosmtpd itself sets the deprecated Session.login_data on every AUTH and logs a warning.
_LOGIN_DATA_NOISE = "Session.login_data is deprecated"


@dataclass(frozen=True)
class OAuthLogin:
    """Who logged in with a bearer token, and how; the token itself is not kept."""

    login: bytes
    mechanism: str


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server answered 250 to, as the client sent it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None  # the authenticated user
    tls: bool
    port: int  # which listener took it: submission_port or smtps_port
    message_id: str | None  # normalised: no angle brackets or surrounding space
    relayed_to: tuple[str, ...]  # recipients Dovecot accepted (relay mode only)


def normalise_message_id(value: str) -> str:
    """``" <a@b> "`` and ``"a@b"`` name the same message."""
    return value.strip().strip("<>").strip()


class SmtpServer:
    """Submission (STARTTLS required) and SMTPS listeners with AUTH PLAIN/LOGIN for ``users``.

    ``reject_domains`` makes RCPT to those domains fail with 550, like a remote refusal.
    """

    def __init__(
        self,
        ca: TestCA,
        users: Mapping[str, str] | None = None,
        *,
        host: str = LOOPBACK,
        relay_to_lmtp: tuple[str, int] | None = None,
        reject_domains: Collection[str] = (),
        oauth: BearerValidator | None = None,
        mechanisms: Collection[str] = (*AUTH_MECHANISMS, *OAUTH_MECHANISMS),
    ) -> None:
        self.ca = ca
        self.users: dict[str, str] = dict(users or {})
        self.host = host
        self.relay_to_lmtp = relay_to_lmtp
        self.reject_domains = frozenset(domain.lower().lstrip("@") for domain in reject_domains)
        self.submission_port, self.smtps_port = free_ports(2, host)
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._controllers: list[Controller] = []
        self.oauth = oauth or BearerValidator()
        self.mechanisms = frozenset(mechanism.upper() for mechanism in mechanisms)
        self._logins: list[tuple[str, str]] = []

    @property
    def logins(self) -> list[tuple[str, str]]:
        """Every successful bearer-token login so far, as (mechanism, user)."""
        with self._lock:
            return list(self._logins)

    def trust_oauth_keys(self, jwks: Mapping[str, Any]) -> None:
        """Take bearer tokens signed by the keys of ``jwks`` (an identity provider's published keys)."""
        self.oauth.trust(jwks)

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of everything accepted so far, oldest first."""
        with self._lock:
            return list(self._messages)

    def count_by_message_id(self, message_id: str) -> int:
        """How many accepted messages carry this Message-ID (1 means exactly once)."""
        wanted = normalise_message_id(message_id)
        return sum(1 for message in self.messages if message.message_id == wanted)

    def by_message_id(self, message_id: str) -> list[ReceivedMessage]:
        wanted = normalise_message_id(message_id)
        return [message for message in self.messages if message.message_id == wanted]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def add_user(self, login: str, password: str) -> None:
        self.users[login] = password

    def start(self) -> Self:
        """Start both listeners; each runs its own event loop in a thread."""
        if self._controllers:
            return self
        _silence_login_data_warning()
        context = self.ca.ssl_server_context()
        handler = _Handler(self)
        common: dict[str, Any] = {
            "hostname": self.host,
            "server_hostname": SERVER_HOSTNAME,
            "ready_timeout": READY_TIMEOUT_S,
            "authenticator": self._authenticate,
            "auth_required": True,
            "auth_exclude_mechanism": [m for m in (*AUTH_MECHANISMS, *OAUTH_MECHANISMS) if m not in self.mechanisms],
        }
        submission = _SubmissionController(
            handler, port=self.submission_port, tls_context=context, require_starttls=True,
            auth_require_tls=True, **common,
        )  # fmt: skip
        smtps = _ImplicitTlsController(handler, port=self.smtps_port, ssl_context=context, **common)
        try:
            for controller in (submission, smtps):
                controller.start()
                self._controllers.append(controller)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both listeners; safe to call twice or after a failed start."""
        while self._controllers:
            self._controllers.pop().stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if mechanism in AUTH_MECHANISMS and isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            if self.users.get(login) == auth_data.password.decode("utf-8", "replace"):
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    async def _bearer_auth(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        """XOAUTH2 / OAUTHBEARER: a refused token gets the JSON error challenge, then 535 with the reason."""
        if len(args) == 2:
            try:
                response: Any = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(success=False, handled=False, message="501 5.5.2 Can't decode base64")
        else:
            response = await server.challenge_auth("")
            if response is MISSING:
                return AuthResult(success=False, handled=True)
        try:
            user, token = parse_bearer_response(mechanism, response)
            self.oauth.check(token, user)
        except (ValueError, TokenRefused) as refused:
            status = refused.status if isinstance(refused, TokenRefused) else "invalid_request"
            error = {"status": _XOAUTH2_STATUS.get(status, "400"), "schemes": "bearer"}
            await server.challenge_auth(json.dumps(error if mechanism == "XOAUTH2" else {"status": status}))
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 Authentication unsuccessful: {refused}")
        with self._lock:
            self._logins.append((mechanism, user))
        return AuthResult(success=True, auth_data=OAuthLogin(user.encode(), mechanism))

    def _record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)

    def _relay(self, mail_from: str, rcpt_tos: tuple[str, ...], data: bytes) -> tuple[str, ...]:
        """Deliver to Dovecot one recipient per transaction; return those it accepted.

        A permanently refused recipient (unknown mailbox) is skipped, as an MTA would
        accept and bounce; any other failure propagates so the client gets a 451.
        """
        assert self.relay_to_lmtp is not None
        host, port = self.relay_to_lmtp
        delivered: list[str] = []
        with smtplib.LMTP(host, port, timeout=RELAY_TIMEOUT_S) as lmtp:
            for rcpt in rcpt_tos:
                try:
                    lmtp.sendmail(mail_from, [rcpt], data)
                except smtplib.SMTPRecipientsRefused as refused:
                    code = refused.recipients[rcpt][0]
                    if code < 500:
                        raise
                    continue
                delivered.append(rcpt)
        return tuple(delivered)


_XOAUTH2_STATUS = {"invalid_token": "401", "insufficient_scope": "403"}  # XOAUTH2 speaks HTTP-like statuses


class _Handler:
    """aiosmtpd hooks; all state lives in the owning ``SmtpServer``."""

    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's name
        return await self.owner._bearer_auth(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's name
        return await self.owner._bearer_auth(server, args, "OAUTHBEARER")

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain in self.owner.reject_domains:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        data = envelope.original_content or b""
        mail_from = envelope.mail_from or ""
        rcpt_tos = tuple(envelope.rcpt_tos)
        relayed: tuple[str, ...] = ()
        if self.owner.relay_to_lmtp is not None:
            loop = asyncio.get_running_loop()
            try:  # smtplib blocks; keep this listener's event loop responsive
                relayed = await loop.run_in_executor(None, self.owner._relay, mail_from, rcpt_tos, data)
            except (smtplib.SMTPException, OSError):
                logging.getLogger(__name__).exception("relay to LMTP failed")
                return TEMP_FAILURE
        self.owner._record(
            ReceivedMessage(
                mail_from=mail_from,
                rcpt_tos=rcpt_tos,
                data=data,
                login=_login(session),
                tls=_is_tls(server, session),
                port=_local_port(server),
                message_id=_message_id(data),
                relayed_to=relayed,
            )
        )
        return OK


class _SubmissionSMTP(SMTP):
    """aiosmtpd's SMTP with room for an AUTH line carrying a bearer token.

    The stream's line limit is set from ``line_length_limit`` when the instance is made (it bounds message
    lines too, a check the stand-in can do without); ``command_size_limits`` is a class-level dict that every
    instance clears: each gets its own here.
    """

    line_length_limit = AUTH_LINE_LIMIT + 2  # and the CRLF

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit, AUTH=AUTH_LINE_LIMIT)


class _ImplicitTlsSMTP(_SubmissionSMTP):
    """SMTP on a socket that is TLS from the first byte.

    aiosmtpd only counts STARTTLS as TLS, so ``auth_require_tls=True`` would refuse AUTH
    here and ``False`` warns on every connection; set the flag after construction.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, auth_require_tls=True, **kwargs)
        self._auth_require_tls = False


class _SubmissionController(Controller):
    def factory(self) -> SMTP:
        return _SubmissionSMTP(self.handler, **self.SMTP_kwargs)


class _ImplicitTlsController(Controller):
    def factory(self) -> SMTP:
        return _ImplicitTlsSMTP(self.handler, **self.SMTP_kwargs)


class _LoginDataNoiseFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_LOGIN_DATA_NOISE)


def _silence_login_data_warning() -> None:
    logger = logging.getLogger("mail.log")  # aiosmtpd's logger
    if not any(isinstance(f, _LoginDataNoiseFilter) for f in logger.filters):
        logger.addFilter(_LoginDataNoiseFilter())


def _login(session: Session) -> str | None:
    # session.auth_data, never session.login_data (deprecated, logs on every access)
    auth_data = session.auth_data
    if session.authenticated and isinstance(auth_data, LoginPassword | OAuthLogin):
        return auth_data.login.decode("utf-8", "replace")
    return None


def _is_tls(server: SMTP, session: Session) -> bool:
    transport = server.transport
    if transport is not None and transport.get_extra_info("ssl_object") is not None:
        return True
    return session.ssl is not None


def _local_port(server: SMTP) -> int:
    transport = server.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return int(sockname[1]) if sockname else 0


def _message_id(data: bytes) -> str | None:
    value = BytesHeaderParser().parsebytes(data).get("Message-ID")
    return normalise_message_id(str(value)) if value else None
