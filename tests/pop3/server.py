"""A small POP3 server (RFC 1939, CAPA RFC 2449, UTF8 RFC 6856) that behaves like Courier for UTF-8 mail.

No local server offers UTF8: Dovecot and Mailutils do not. Courier does, and serves a message whose headers
are UTF-8 only to a client that sent ``UTF8``; any other client gets a notice in its place ("Cannot display
Unicode content"). This server does the same, so the connector's UTF8 handling is exercised on the wire.
Implicit TLS with the test CA; users and maildrops in memory; DELE applied at QUIT only.
"""

from __future__ import annotations

import socketserver
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from devstack.ports import LOOPBACK

NOTICE = (  # what the client gets instead of the message; no sender, so it is recorded as InvalidSender
    b"Subject: Cannot display Unicode content\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"This message cannot be displayed because of its Unicode content. Upgrade your mail client.\r\n"
)


def _header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def needs_utf8(raw: bytes) -> bool:
    """Courier's test: a header with 8-bit bytes (RFC 6532 internationalized headers)."""
    return any(byte > 0x7F for byte in _header_block(raw))


@dataclass
class Maildrop:
    messages: dict[str, bytes] = field(default_factory=dict)  # UIDL -> raw, in delivery order


class Utf8Pop3Server:
    """POP3 over implicit TLS on a free loopback port; ``commands`` records every command line received."""

    def __init__(self, context: ssl.SSLContext, users: dict[str, str], *, offer_utf8: bool = True) -> None:
        self.context = context
        self.users = dict(users)
        self.offer_utf8 = offer_utf8
        self.maildrops: dict[str, Maildrop] = {address: Maildrop() for address in users}
        self.commands: list[str] = []
        self.lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def add_user(self, address: str, password: str) -> None:
        with self.lock:
            self.users[address] = password
            self.maildrops.setdefault(address, Maildrop())

    def deliver(self, address: str, raw: bytes) -> str:
        """Add a message (CRLF line ends expected); returns its UIDL."""
        uidl = uuid.uuid4().hex
        with self.lock:
            self.maildrops[address].messages[uidl] = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return uidl

    def start(self) -> Self:
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                self.request = owner.context.wrap_socket(self.request, server_side=True)
                super().setup()

            def handle(self) -> None:
                _Session(owner, self.rfile, self.wfile).run()

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="utf8-pop3", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Session:
    def __init__(self, server: Utf8Pop3Server, rfile: object, wfile: object) -> None:
        self.server = server
        self.rfile = rfile
        self.wfile = wfile
        self.user: str | None = None
        self.address: str | None = None
        self.utf8 = False
        self.deleted: set[str] = set()
        self.listing: list[str] = []  # message number - 1 -> UIDL, fixed at login

    def send(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")  # type: ignore[attr-defined]

    def send_multiline(self, first: str, body: bytes) -> None:
        lines = [b"." + line if line.startswith(b".") else line for line in body.split(b"\r\n")]
        if lines and lines[-1] == b"":
            lines.pop()
        self.wfile.write(first.encode() + b"\r\n" + b"\r\n".join(lines) + b"\r\n.\r\n")  # type: ignore[attr-defined]

    def run(self) -> None:
        self.send("+OK POP3 ready")
        while True:
            raw = self.rfile.readline()  # type: ignore[attr-defined]
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.server.lock:
                self.server.commands.append(line if not line.upper().startswith("PASS ") else "PASS ***")
            verb, _, argument = line.partition(" ")
            if not self.dispatch(verb.upper(), argument):
                return

    def dispatch(self, verb: str, argument: str) -> bool:  # noqa: PLR0912 (one branch per command)
        if verb == "QUIT":
            if self.address is not None:
                with self.server.lock:
                    for uidl in self.deleted:
                        self.server.maildrops[self.address].messages.pop(uidl, None)
            self.send("+OK bye")
            return False
        if verb == "CAPA":
            capabilities = ["USER", "UIDL", "TOP", *(["UTF8"] if self.server.offer_utf8 else [])]
            self.send_multiline("+OK capabilities", "\r\n".join(capabilities).encode() + b"\r\n")
        elif verb == "UTF8" and self.server.offer_utf8 and self.address is None:
            self.utf8 = True
            self.send("+OK UTF8 enabled")
        elif verb == "USER" and self.address is None:
            self.user = argument
            self.send("+OK")
        elif verb == "PASS" and self.user is not None and self.address is None:
            if self.server.users.get(self.user) != argument:
                self.send("-ERR [AUTH] invalid credentials")
            else:
                self.address = self.user
                with self.server.lock:
                    self.listing = list(self.server.maildrops[self.address].messages)
                self.send("+OK logged in")
        elif self.address is None:
            self.send("-ERR not logged in")
        elif verb == "UIDL":
            body = "".join(f"{n} {uidl}\r\n" for n, uidl in self.numbered()).encode()
            self.send_multiline("+OK", body)
        elif verb == "LIST" and argument:
            number = int(argument)
            self.send(f"+OK {number} {len(self.content(self.listing[number - 1]))}")
        elif verb == "LIST":
            body = "".join(f"{n} {len(self.content(uidl))}\r\n" for n, uidl in self.numbered()).encode()
            self.send_multiline("+OK", body)
        elif verb == "RETR":
            uidl = self.listing[int(argument) - 1]
            content = self.content(uidl)
            self.send_multiline(f"+OK {len(content)} octets", content)
        elif verb == "DELE":
            self.deleted.add(self.listing[int(argument) - 1])
            self.send("+OK marked")
        elif verb == "NOOP":
            self.send("+OK")
        else:
            self.send("-ERR unknown command")
        return True

    def numbered(self) -> list[tuple[int, str]]:
        return [(n, uidl) for n, uidl in enumerate(self.listing, 1) if uidl not in self.deleted]

    def content(self, uidl: str) -> bytes:
        assert self.address is not None
        with self.server.lock:
            raw = self.server.maildrops[self.address].messages[uidl]
        return raw if self.utf8 or not needs_utf8(raw) else NOTICE
