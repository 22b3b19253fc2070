"""A real aiosmtpd submission server whose answers a test scripts, and that counts what it delivered.

The shared ``smtp_server`` fixture answers like a well-behaved server; the branches of the sender need
others: a 4xx or 5xx for one recipient, a refused end of DATA, a connection dropped after the message
was accepted (the reply never arrives), AUTH LOGIN only, XOAUTH2. Like the shared server it requires
STARTTLS and AUTH, and it records every accepted message; it also counts connections, open at once and
in total, to check the pool.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from devstack.certs import SERVER_HOSTNAME, TestCA
from devstack.ports import LOOPBACK, free_port


@dataclass(frozen=True)
class Delivered:
    rcpt_tos: tuple[str, ...]
    data: bytes
    message_id: str
    peer_port: int  # tells connections apart


@dataclass
class Script:
    """Replies to use instead of "250", consumed in order (an empty list means: accept)."""

    mail: list[str] = field(default_factory=list)
    rcpt: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    data: list[str] = field(default_factory=list)
    drop_after_data: int = 0  # accept (and record) the next N messages, then hang up instead of answering
    always_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply, every time


class ScriptedSmtp:
    def __init__(
        self,
        ca: TestCA,
        users: dict[str, str],
        *,
        oauth_tokens: dict[str, str] | None = None,
        exclude_mechanisms: tuple[str, ...] = (),
    ) -> None:
        self.ca = ca
        self.users = dict(users)
        self.oauth_tokens = dict(oauth_tokens or {})
        self.exclude_mechanisms = exclude_mechanisms
        self.host = LOOPBACK
        self.port = free_port(LOOPBACK)
        self.script = Script()
        self.delivered: list[Delivered] = []
        self.logins: list[tuple[str, str]] = []  # (mechanism, user)
        self.connections = 0
        self.open_max = 0
        self._open: set[Any] = set()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> ScriptedSmtp:
        handler = _Handler(self)
        owner = self

        class _Smtp(SMTP):
            # called again with the TLS transport after STARTTLS: count peers, not calls
            peer: Any = None

            def connection_made(self, transport: Any) -> None:
                self.peer = self.peer or transport.get_extra_info("peername")
                owner._opened(self.peer)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                owner._closed(self.peer)
                super().connection_lost(exc)

        class _Controller(Controller):
            def factory(self) -> SMTP:
                return _Smtp(self.handler, **self.SMTP_kwargs)

        self._controller = _Controller(
            handler,
            hostname=self.host,
            port=self.port,
            server_hostname=SERVER_HOSTNAME,
            ready_timeout=10.0,
            tls_context=self.ca.ssl_server_context(),
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            authenticator=self._authenticate,
            auth_exclude_mechanism=list(self.exclude_mechanisms),
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reset(self) -> None:
        with self._lock:
            self.script = Script()
            self.delivered.clear()
            self.logins.clear()
            self.connections = self.open_max = 0

    def count(self, message_id: str) -> int:
        wanted = message_id.strip().strip("<>")
        with self._lock:
            return sum(1 for d in self.delivered if d.message_id == wanted)

    def by_message_id(self, message_id: str) -> list[Delivered]:
        wanted = message_id.strip().strip("<>")
        with self._lock:
            return [d for d in self.delivered if d.message_id == wanted]

    # --- hooks -------------------------------------------------------------------------------------
    def _opened(self, peer: Any) -> None:
        with self._lock:
            if peer not in self._open:
                self.connections += 1
                self._open.add(peer)
            self.open_max = max(self.open_max, len(self._open))

    def _closed(self, peer: Any) -> None:
        with self._lock:
            self._open.discard(peer)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            if self.users.get(login) == auth_data.password.decode():
                self.logins.append((mechanism, login))
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _pop(self, replies: list[str]) -> str | None:
        with self._lock:
            return replies.pop(0) if replies else None

    def _record(self, delivered: Delivered) -> bool:
        """Record the message; True when the connection is to be dropped instead of answered."""
        with self._lock:
            self.delivered.append(delivered)
            if self.script.drop_after_data > 0:
                self.script.drop_after_data -= 1
                return True
        return False


class _Handler:
    def __init__(self, owner: ScriptedSmtp) -> None:
        self.owner = owner

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - aiosmtpd's name
        try:
            text = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        except (ValueError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False)
        fields = dict(part.split("=", 1) for part in text.split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        if user and self.owner.oauth_tokens.get(user) == token:
            self.owner.logins.append(("XOAUTH2", user))
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), token.encode()))
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        reply = self.owner._pop(self.owner.script.mail)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self.owner.script.always_rcpt.get(address) or self.owner._pop(self.owner.script.rcpt[address])
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        reply = self.owner._pop(self.owner.script.data)
        if reply is not None:
            return reply
        data = envelope.original_content or b""
        value = BytesHeaderParser().parsebytes(data).get("Message-ID") or ""
        peer = server.transport.get_extra_info("peername") if server.transport else None
        delivered = Delivered(tuple(envelope.rcpt_tos), data, str(value).strip().strip("<>"), peer[1] if peer else 0)
        if self.owner._record(delivered):
            transport = server.transport
            assert isinstance(transport, asyncio.Transport)
            transport.abort()  # accepted and kept, but the answer never leaves
            await asyncio.sleep(0)
        return "250 2.0.0 Message accepted"
