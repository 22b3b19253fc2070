"""Start and stop server processes so that "stopped" really means gone.

Each server runs in its own session (process group), so stopping it also reaches the
workers it forked (Dovecot's login/auth/imap children), and nothing outlives the tests.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

GRACE_S = 5.0  # SIGTERM grace before SIGKILL; both servers exit in well under 1 s
RESEND_S = 0.1  # how often SIGTERM is repeated while members remain
POLL_S = 0.02


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with stdout+stderr appended to ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], grace: float = GRACE_S) -> None:
    """SIGTERM the whole group until every member is gone; SIGKILL what is left after ``grace``.

    The whole group, not only the leader: a Dovecot master told alone waits ~1 s for
    its log process before exiting. SIGTERM is repeated because a Dovecot worker that
    is still starting up can miss the first one. Waiting for every member matters:
    Dovecot refuses to start while a previous master in the same base_dir is exiting.
    """
    pgid = process.pid  # start_new_session made the leader's pid the group id
    deadline = time.monotonic() + grace
    while True:
        _signal_group(pgid, signal.SIGTERM)
        remaining = deadline - time.monotonic()
        if _wait_gone(process, pgid, min(RESEND_S, max(remaining, 0.0))):
            return
        if time.monotonic() >= deadline:
            break
    _signal_group(pgid, signal.SIGKILL)
    _wait_gone(process, pgid, grace)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_gone(process: subprocess.Popen[bytes], pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=POLL_S)
        if process.returncode is not None and not _group_alive(pgid):
            return True
        if time.monotonic() >= deadline:
            return False


def _group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in the group.

    Orphaned workers are re-parented to PID 1, which in some containers never reaps
    them; a zombie holds no port or pid file, so it does not count.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process exited while we looked
        state, group = fields[0], int(fields[2])
        if group == pgid and state not in ("Z", "X"):
            return True
    return False


def group_members(pgid: int) -> set[int]:
    """The live (non-zombie) processes of a group, read from /proc (empty where there is no /proc)."""
    members: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process exited while we looked
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.add(int(stat.parent.name))
    return members
