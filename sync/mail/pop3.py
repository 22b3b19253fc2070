"""POP3 incoming connector: the maildrop is the Inbox (R-PROV-10), tracked by UIDL.

POP3 has no folders, dates or flags worth trusting, so progress is the set of UIDLs the caller has already
processed (``processed_keys``); the folder watermark is left as it is. One cycle::

    UIDL ──► every UIDL already processed ──► nothing new: 1 round trip after login
      └────► LIST sizes of the new ones ──► RETR each (by this session's number) ──► DELE (R-FWD-4) ──► QUIT

Deletion is two-phase by design of the protocol (RFC 1939 §6): DELE only marks, and the server removes the
marked messages when QUIT ends the session. ``close()`` therefore sends QUIT; a session that breaks before it
rolls its deletions back, which is safe: the messages are already stored and stay on the server.

Before login the session asks CAPA: ``UTF8`` offered means UTF8 is sent (RFC 6856), because some servers
(Courier) otherwise hand out a "cannot display Unicode content" notice in place of a message with UTF-8
headers; a plaintext link to a server without ``USER`` but with ``STLS`` is refused before the password is sent.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import poplib
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import BinaryIO, Self, cast

from sync.mail import egress, sasl
from sync.mail.errors import (
    MailAuthenticationError,
    MailServerError,
    PermanentMailError,
    SecureConnectionRequired,
    TransientMailError,
)
from sync.mail.port import ConnectionSettings, RemoteMessage
from sync.mail.transport import TLS_MODES, Kind, Stage, client_tls_context, map_network_error, text_of, typed_errors
from sync.model.mailbox import FolderWatermark

# poplib refuses lines over 2048 bytes, and real mail has longer ones (unwrapped base64, HTML on one line).
# A line is never longer than its message, and messages are size-checked (R-IN-13) before they are fetched.
MAX_LINE_BYTES = 150 * 1024 * 1024
poplib._MAXLINE = max(poplib._MAXLINE, MAX_LINE_BYTES)  # type: ignore[attr-defined]

MAX_SASL_ROUNDS = 3  # initial response, error acknowledgement, and one spare: a bearer exchange needs no more
LIST_EACH_MAX = 10  # up to this many new messages, one small LIST each; above, one LIST of the whole maildrop
EOF_TEXT = "-ERR EOF"  # what poplib raises when the server closes the connection
NO_STLS = ("-ERR STLS not supported by server", "-ERR CAPA not supported by server")  # poplib's own texts

LOGIN_REFUSED: Kind = (MailAuthenticationError, "AuthenticationFailed", "login refused")
SERVER_BUSY: Kind = (TransientMailError, "ServerUnavailable", "server unavailable")
# RFC 2449 / RFC 3206 response codes.
RESPONSE_CODES: dict[str, Kind] = {
    "AUTH": LOGIN_REFUSED,
    **dict.fromkeys(("SYS/TEMP", "IN-USE", "LOGIN-DELAY"), SERVER_BUSY),
    "SYS/PERM": (PermanentMailError, "ServerRefused", "server refused permanently"),
}
REFUSED_AT: dict[Stage, Kind] = {
    "connect": (TransientMailError, "ServerError", "server refused the connection"),
    "login": LOGIN_REFUSED,  # many servers answer a bad password with a bare -ERR
    "session": (TransientMailError, "ServerError", "server refused the command"),
}
RESPONSE_CODE = re.compile(r"^-ERR \[([A-Z][A-Z0-9/-]*)")
PLAINTEXT_REFUSED = re.compile(r"plaintext|PRIVACYREQUIRED|SSL/TLS required|TLS required", re.IGNORECASE)
SECURE_CONNECTION_REQUIRED: Kind = (SecureConnectionRequired, "SecureConnectionRequired", "server requires TLS")

log = logging.getLogger(__name__)


def map_pop3_error(exc: BaseException, where: str, stage: Stage = "session") -> MailServerError | None:
    """The typed error for a failure of poplib; ``None`` when ``exc`` is not a mail failure (a bug)."""
    network = map_network_error(exc, where)
    if network is not None or not isinstance(exc, poplib.error_proto):
        return network
    error_class, code, phrase = _pop3_kind(text_of(exc), stage)
    return error_class(f"{where}: {phrase}: {text_of(exc)}", code=code)


def _pop3_kind(text: str, stage: Stage) -> Kind:
    """poplib raises ``error_proto`` for everything: a refusal (-ERR), a dropped link, a non-POP3 answer."""
    if text == EOF_TEXT:
        return (TransientMailError, "ConnectionDropped", "connection dropped")
    if text in NO_STLS:
        return (PermanentMailError, "StartTlsNotSupported", "STLS required but not offered")
    if not text.startswith("-ERR"):  # e.g. an IMAP greeting: the port is not a POP3 server's
        return (PermanentMailError, "ProtocolError", "not a POP3 answer")
    if stage == "login" and PLAINTEXT_REFUSED.search(text):  # Dovecot: "-ERR [AUTH] Plaintext authentication ..."
        return SECURE_CONNECTION_REQUIRED
    found = RESPONSE_CODE.match(text)
    if found and found.group(1) in RESPONSE_CODES:
        return RESPONSE_CODES[found.group(1)]
    return REFUSED_AT[stage]


def parse_uidl(lines: list[bytes]) -> dict[str, int]:
    """UIDL listing lines (``b"<number> <uidl>"``) as ``{uidl: number}``; a repeated UIDL keeps its first message."""
    numbers: dict[str, int] = {}
    for line in lines:
        number, _, uidl = line.decode("ascii", "replace").strip().partition(" ")
        if number.isdigit() and uidl.strip():
            numbers.setdefault(uidl.strip(), int(number))
    return numbers


def parse_scan_line(line: bytes) -> tuple[int, int]:
    """A LIST scan line (``b"<number> <octets>"``, optionally after ``+OK``) as ``(number, size)``."""
    parts = line.split()
    if parts[:1] == [b"+OK"]:
        parts = parts[1:]
    return int(parts[0]), int(parts[1])


class _Pop3(poplib.POP3):
    """``poplib.POP3`` that may start in TLS and closes its socket when the greeting fails.

    poplib leaves the socket open when no greeting comes (plaintext spoken to a TLS port, a timeout), and
    Dovecot keeps such connections around. (A failed TLS handshake closes its own socket.)
    """

    def __init__(self, settings: ConnectionSettings, context: ssl.SSLContext | None) -> None:
        self._connect_timeout = settings.timeout_seconds
        self._implicit_tls = context
        self.sock = cast(socket.socket, None)  # poplib.close() skips what is still None
        self.file = cast(BinaryIO, None)
        try:
            super().__init__(settings.host, settings.port)
        except BaseException:
            _close_quietly(self)
            raise

    def sasl_step(self, line: str) -> bytes:
        """One line of a SASL exchange; the answer is "+OK ..." or a "+ <challenge>" (-ERR raises error_proto)."""
        return cast(bytes, self._shortcmd(line))  # type: ignore[attr-defined]  # poplib's own, untyped

    def _create_socket(self, timeout: object) -> socket.socket:
        sock = egress.connect(self.host, self.port, self._connect_timeout)  # a checked address only
        if self._implicit_tls is None:
            return sock
        return self._implicit_tls.wrap_socket(sock, server_hostname=self.host)


def _close_quietly(client: poplib.POP3) -> None:
    """Close without QUIT; after a failed STLS the plain socket is already detached (EBADF on shutdown)."""
    with contextlib.suppress(OSError):
        client.close()


class Pop3Connector:
    """Opens logged-in POP3 sessions: implicit TLS, STLS, or plaintext only when ``tls == "none"``.

    A password logs in with USER/PASS; an OAuth token (``settings.oauth``) with AUTH (RFC 5034) and the first
    of ``sasl_preference`` the server lists in ``CAPA``'s SASL line.
    """

    def __init__(self, sasl_preference: tuple[str, ...] = sasl.PREFERENCE) -> None:
        self.sasl_preference = sasl_preference

    def open(self, settings: ConnectionSettings) -> Pop3Session:
        if settings.tls not in TLS_MODES:
            raise ValueError(f"unknown TLS mode {settings.tls!r}; expected one of {TLS_MODES}")
        where = f"POP3 {settings.host}:{settings.port}"
        if settings.oauth is not None:
            sasl.check_encrypted(settings.tls, where)
        context = client_tls_context(settings.ca_file) if settings.tls != "none" else None
        with typed_errors(map_pop3_error, where, settings.password, "connect"):
            client = _Pop3(settings, context if settings.tls == "implicit" else None)
        try:
            with typed_errors(map_pop3_error, where, settings.password, "connect"):
                if settings.tls == "starttls":
                    client.stls(context)
            with typed_errors(map_pop3_error, where, settings.password, "connect"):
                capabilities = _capabilities(client)
            with typed_errors(map_pop3_error, where, settings.password, "login"):
                if settings.oauth is None:
                    _check_login_allowed(capabilities, settings, where)
                if "UTF8" in capabilities:
                    _enable_utf8(client, where)
            if settings.oauth is not None:
                secret = self._bearer_login(client, settings, capabilities.get("SASL", []), where)
                return Pop3Session(client, where, secret)
            with typed_errors(map_pop3_error, where, settings.password, "login"):
                client.user(settings.username)
                client.pass_(settings.password)
        except BaseException:
            _close_quietly(client)
            raise
        return Pop3Session(client, where, settings.password)

    def _bearer_login(self, client: _Pop3, settings: ConnectionSettings, offered: list[str], where: str) -> str:
        """AUTH with a token (a refused one is replaced once); returns the token that logged in."""
        assert settings.oauth is not None
        mechanism = sasl.choose_mechanism(offered, self.sasl_preference)
        if mechanism is None:
            raise sasl.no_mechanism_error(where, offered)

        def attempt(token: str) -> str:
            exchange = sasl.BearerExchange(mechanism, settings.username, token, settings.host, settings.port)
            with typed_errors(map_pop3_error, where, token, "login"):
                try:
                    answer = client.sasl_step(f"AUTH {mechanism}")
                    for _ in range(MAX_SASL_ROUNDS):
                        if not _is_challenge(answer):
                            break
                        response = exchange(base64.b64decode(answer[1:].strip() or b""))
                        answer = client.sasl_step(base64.b64encode(response).decode("ascii"))
                except poplib.error_proto as exc:
                    if _token_refused(exc):
                        raise exchange.refused(text_of(exc)) from None
                    raise
            if _is_challenge(answer):
                raise PermanentMailError(
                    f"{where}: the server did not end the {mechanism} exchange", code="ProtocolError"
                )
            return token

        return sasl.login_with_token(settings.oauth, attempt, where)


def _is_challenge(answer: bytes) -> bool:
    """A SASL continuation ("+ <base64>") rather than the final "+OK"."""
    return answer == b"+" or answer.startswith(b"+ ")


def _token_refused(exc: poplib.error_proto) -> bool:
    """An -ERR to AUTH that is about the token, not a busy server or a dropped link."""
    text = text_of(exc)
    if not text.startswith("-ERR") or text == EOF_TEXT:
        return False
    found = RESPONSE_CODE.match(text)
    return found is None or RESPONSE_CODES.get(found.group(1)) is LOGIN_REFUSED


def _capabilities(client: poplib.POP3) -> dict[str, list[str]]:
    """CAPA (RFC 2449); empty when the server predates it."""
    try:
        return client.capa()
    except poplib.error_proto as exc:
        if text_of(exc).startswith("-ERR"):
            return {}
        raise


def _check_login_allowed(capabilities: dict[str, list[str]], settings: ConnectionSettings, where: str) -> None:
    """A plaintext link whose server offers STLS but not USER (RFC 2449 §6.8) will refuse USER/PASS: say so
    before the password is sent in the clear."""
    if settings.tls == "none" and capabilities and "STLS" in capabilities and "USER" not in capabilities:
        raise SecureConnectionRequired(
            f"{where}: the server refuses login without TLS (no USER before STLS); use implicit TLS or STARTTLS",
            code="SecureConnectionRequired",
        )


def _enable_utf8(client: poplib.POP3, where: str) -> None:
    """UTF8 (RFC 6856) before login: servers such as Courier otherwise replace a message whose headers are
    UTF-8 with a notice. A refusal is not fatal: the session goes on as before."""
    try:
        client.utf8()
    except poplib.error_proto as exc:
        log.info("%s: UTF8 refused: %s", where, text_of(exc))


class Pop3Session:
    """One logged-in POP3 connection; message numbers are valid only within it, UIDLs across sessions."""

    def __init__(self, client: poplib.POP3, where: str, secret: str) -> None:
        self._client = client
        self._where = where
        self._secret = secret
        self._numbers: dict[str, int] | None = None  # UIDL -> message number, from this session's UIDL
        self._pending_deletes = 0
        self._broken = False
        self._closed = False

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        """Messages whose UIDL is not in ``processed_keys``, in maildrop order (oldest first)."""
        with self._command():
            numbers = self._uidl()
            new = sorted((number, uidl) for uidl, number in numbers.items() if uidl not in processed_keys)
            sizes = self._sizes([number for number, _ in new]) if new else {}
        return [RemoteMessage(key=uidl, size=sizes.get(number, 0), received_on=None) for number, uidl in new]

    def fetch(self, message: RemoteMessage) -> bytes:
        """RETR by this session's number for the UIDL; POP3 has no \\Seen flag to disturb."""
        with self._command():
            number = (self._numbers if self._numbers is not None else self._uidl()).get(message.key)
        if number is None:
            raise TransientMailError(
                f"{self._where}: {message.key} is no longer in the maildrop", code="MessageNotFound"
            )
        with self._command():
            _, lines, _ = self._client.retr(number)
        return b"".join(line + b"\r\n" for line in lines)

    def delete(self, messages: list[RemoteMessage]) -> None:
        """DELE each message; the server removes them only when ``close()`` sends QUIT. Vanished ones are skipped."""
        if not messages:
            return
        with self._command():
            numbers = self._numbers if self._numbers is not None else self._uidl()
            for message in messages:
                number = numbers.get(message.key)
                if number is not None:
                    self._client.dele(number)
                    self._pending_deletes += 1

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        """Unchanged: POP3 progress is the caller's set of processed UIDLs, not a watermark."""
        return watermark

    def close(self) -> None:
        """QUIT, which commits the deletions; raises only when QUIT fails while deletions are pending."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._broken:
                with typed_errors(map_pop3_error, self._where, self._secret):
                    self._client.quit()
        except MailServerError as exc:
            if self._pending_deletes:
                raise TransientMailError(
                    f"{self._where}: {self._pending_deletes} deletion(s) not committed: {exc}", code=exc.code
                ) from exc
        finally:
            _close_quietly(self._client)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _command(self) -> Iterator[None]:
        if self._closed:
            raise RuntimeError("the POP3 session is closed")
        try:
            with typed_errors(map_pop3_error, self._where, self._secret):
                yield
        except BaseException:
            self._broken = True  # no QUIT on a failed link: pending deletions roll back
            raise

    def _uidl(self) -> dict[str, int]:
        _, lines, _ = self._client.uidl()
        self._numbers = parse_uidl(lines)
        return self._numbers

    def _sizes(self, numbers: list[int]) -> dict[int, int]:
        if len(numbers) > LIST_EACH_MAX:
            _, lines, _ = self._client.list()
            return dict(parse_scan_line(line) for line in lines)
        # typeshed types only LIST without argument; with one, poplib returns the single "+OK n size" line.
        return dict(parse_scan_line(cast(bytes, self._client.list(number))) for number in numbers)
