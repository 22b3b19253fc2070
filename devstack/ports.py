"""Loopback port helpers.

Every server binds a free port chosen at start, so parallel test runs and a developer's
own services never collide with the stack.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from devstack.errors import ServiceStartError

LOOPBACK = "127.0.0.1"
POLL_INTERVAL_S = 0.02  # short: Dovecot opens its ports ~55 ms after exec
LOG_TAIL_CHARS = 2000  # enough of a server log to show why it failed


def free_port(host: str = LOOPBACK) -> int:
    """Return a port that was free on ``host`` a moment ago (the OS picked it)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Return ``count`` distinct free ports.

    All sockets stay bound until every port is picked, so the OS cannot hand out the
    same port twice within one call (it can after the sockets close: that small race
    is accepted).
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def port_is_open(host: str, port: int) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    timeout: float,
    *,
    service: str,
    process: subprocess.Popen[bytes] | None = None,
    logs: Sequence[Path] = (),
) -> None:
    """Block until ``host:port`` accepts connections.

    Raises ``ServiceStartError`` naming ``service`` (with the tail of each of ``logs``) on
    timeout, or at once if ``process`` exits first, instead of a bare connection error
    deep inside a test.
    """
    deadline = time.monotonic() + timeout
    while True:
        if port_is_open(host, port):
            return
        if process is not None and process.poll() is not None:
            raise ServiceStartError(
                f"{service} exited with code {process.returncode} before opening {host}:{port}{_log_tails(logs)}"
            )
        if time.monotonic() >= deadline:
            raise ServiceStartError(f"{service} did not open {host}:{port} within {timeout:.1f} s{_log_tails(logs)}")
        time.sleep(POLL_INTERVAL_S)


def _log_tails(logs: Sequence[Path]) -> str:
    parts = [
        f"\n--- end of {path} ---\n{path.read_text(errors='replace')[-LOG_TAIL_CHARS:]}"
        for path in logs
        if path.exists()
    ]
    return "".join(parts)
