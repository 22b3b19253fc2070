"""The whole local stack in one context manager, for the demo and end-to-end tests.

Start order follows dependencies (CA → Azurite → Dovecot → SMTP relaying into Dovecot);
an ``ExitStack`` unwinds whatever did start, in reverse, even when a later start fails.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from devstack.azurite import Azurite
from devstack.certs import TestCA
from devstack.dovecot import Dovecot
from devstack.errors import DevstackError
from devstack.smtp import SmtpServer

_T = TypeVar("_T")
DEFAULT_USERS: Mapping[str, str] = {"alice@example.test": "secret", "bob@example.test": "secret"}


class LocalStack:
    """Test CA, Azurite, Dovecot and the SMTP server, all on free loopback ports.

    ``users`` log in to both Dovecot and the SMTP server. Without ``work_dir`` a temp
    dir is created and removed on exit; a given ``work_dir`` is kept for inspection.
    """

    def __init__(
        self,
        users: Mapping[str, str] = DEFAULT_USERS,
        *,
        work_dir: Path | None = None,
        azurite_in_memory: bool = True,
        reject_domains: tuple[str, ...] = ("reject.test",),
    ) -> None:
        self.users = dict(users)
        self.azurite_in_memory = azurite_in_memory
        self.reject_domains = reject_domains
        self._given_work_dir = work_dir
        self._work_dir: Path | None = None
        self._ca: TestCA | None = None
        self._azurite: Azurite | None = None
        self._dovecot: Dovecot | None = None
        self._smtp: SmtpServer | None = None
        self._exit_stack: contextlib.ExitStack | None = None

    @property
    def work_dir(self) -> Path:
        return _started(self._work_dir)

    @property
    def ca(self) -> TestCA:
        return _started(self._ca)

    @property
    def azurite(self) -> Azurite:
        return _started(self._azurite)

    @property
    def dovecot(self) -> Dovecot:
        return _started(self._dovecot)

    @property
    def smtp(self) -> SmtpServer:
        return _started(self._smtp)

    def start(self) -> Self:
        if self._exit_stack is not None:
            return self
        with contextlib.ExitStack() as stack:
            work_dir = self._make_work_dir(stack)
            ca = TestCA.create(work_dir / "ca")
            azurite = stack.enter_context(Azurite(work_dir / "azurite", in_memory=self.azurite_in_memory))
            dovecot = stack.enter_context(Dovecot(work_dir / "dovecot", ca, self.users))
            smtp = stack.enter_context(
                SmtpServer(
                    ca, self.users, relay_to_lmtp=(dovecot.host, dovecot.lmtp_port),
                    reject_domains=self.reject_domains,
                )
            )  # fmt: skip
            self._work_dir, self._ca, self._azurite, self._dovecot, self._smtp = (
                work_dir, ca, azurite, dovecot, smtp,
            )  # fmt: skip
            self._exit_stack = stack.pop_all()  # everything started: keep it running
        return self

    def stop(self) -> None:
        """Stop every server (reverse start order) and remove a temp work dir."""
        stack, self._exit_stack = self._exit_stack, None
        self._ca = self._azurite = self._dovecot = self._smtp = None
        self._work_dir = None
        if stack is not None:
            stack.close()

    def endpoints(self) -> dict[str, str]:
        """Where everything listens, as strings (for settings files, env vars or a printout)."""
        dovecot, smtp = self.dovecot, self.smtp
        return {
            "AzureWebJobsStorage": self.azurite.connection_string,
            "CA_CERT": str(self.ca.ca_cert),
            "IMAP": f"{dovecot.host}:{dovecot.imap_port}",
            "IMAPS": f"{dovecot.host}:{dovecot.imaps_port}",
            "POP3": f"{dovecot.host}:{dovecot.pop3_port}",
            "POP3S": f"{dovecot.host}:{dovecot.pop3s_port}",
            "LMTP": f"{dovecot.host}:{dovecot.lmtp_port}",
            "SMTP_SUBMISSION": f"{smtp.host}:{smtp.submission_port}",
            "SMTPS": f"{smtp.host}:{smtp.smtps_port}",
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _make_work_dir(self, stack: contextlib.ExitStack) -> Path:
        if self._given_work_dir is not None:
            self._given_work_dir.mkdir(parents=True, exist_ok=True)
            return self._given_work_dir
        work_dir = Path(tempfile.mkdtemp(prefix="devstack-"))
        work_dir.chmod(0o755)  # Dovecot's unprivileged workers must traverse it
        stack.callback(shutil.rmtree, work_dir, ignore_errors=True)  # runs after the servers stop
        return work_dir


def _started(value: _T | None) -> _T:
    if value is None:
        raise DevstackError("LocalStack is not running; use it as a context manager or call start()")
    return value
