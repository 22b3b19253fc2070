"""A loopback TCP proxy that can drop a connection part-way through a server's answer.

Put in front of Dovecot's plaintext IMAP or POP3 port, it forwards bytes both ways and keeps a copy of what
clients sent. Tests use it to cut the link after exactly N more bytes from the server - so the cut lands inside
a FETCH or RETR response - and to count the commands that crossed the wire.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from devstack.ports import LOOPBACK

ACCEPT_POLL_S = 0.05  # how fast stop() notices; a closed listener does not wake accept() everywhere
CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536
JOIN_TIMEOUT_S = 2.0


class FlakyProxy:
    """Forwards ``LOOPBACK:port`` to ``upstream``; ``cut_after(n)`` arms a one-shot cut."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.host = LOOPBACK
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server((self.host, 0))
        self._listener.settimeout(ACCEPT_POLL_S)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._budget: int | None = None  # server bytes still forwarded before the armed cut
        self._from_clients = bytearray()
        self.cuts = 0

    def start(self) -> Self:
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection and wait for the threads."""
        self._stopping.set()
        with self._lock:
            sockets = [self._listener, *self._sockets]
        for sock in sockets:
            _close(sock)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)

    def cut_after(self, server_bytes: int) -> None:
        """Forward ``server_bytes`` more bytes from the server, then close the connection that carried them."""
        with self._lock:
            self._budget = server_bytes

    def client_bytes(self) -> int:
        """How many bytes clients have sent so far: a mark for :meth:`client_lines_since`."""
        with self._lock:
            return len(self._from_clients)

    def client_lines_since(self, mark: int) -> list[bytes]:
        """The CRLF-terminated lines clients sent after ``mark``: one per command for IMAP and POP3."""
        with self._lock:
            sent = bytes(self._from_clients[mark:])
        return [line for line in sent.split(b"\r\n") if line]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed by stop()
            try:
                server = socket.create_connection(self._upstream, timeout=CONNECT_TIMEOUT_S)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            self._spawn(self._pump, client, server, False)
            self._spawn(self._pump, server, client, True)

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        """Copy one direction until either side closes or the cut fires; then close both sides."""
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    return
                data, cut = self._take(data) if from_server else self._record(data)
                if data:
                    sink.sendall(data)
                if cut:
                    return
        except OSError:
            return
        finally:
            _close(source)
            _close(sink)

    def _take(self, data: bytes) -> tuple[bytes, bool]:
        with self._lock:
            if self._budget is None or len(data) < self._budget:
                if self._budget is not None:
                    self._budget -= len(data)
                return data, False
            kept, self._budget = data[: self._budget], None
            self.cuts += 1
            return kept, True

    def _record(self, data: bytes) -> tuple[bytes, bool]:
        with self._lock:
            self._from_clients += data
        return data, False

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()


def _close(sock: socket.socket) -> None:
    """shutdown() first: it wakes a thread blocked in recv() on the same socket, close() alone may not."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
