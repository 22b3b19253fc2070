"""pytest plugin: the real local servers as lazy, session-scoped fixtures.

Load with ``pytest_plugins = ["tests.stack_fixtures"]`` in the top-level conftest.
A server starts only when the first test asks for it, is shared by the session, and
is always stopped in teardown, also when a test or a later start fails.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import Azurite, Dovecot, MailServer, Mailutils, SmtpServer, TestCA

MAIL_PASSWORD = "secret"
MAIL_DOMAIN = "example.test"
MAIL_USERS = {f"alice@{MAIL_DOMAIN}": MAIL_PASSWORD, f"bob@{MAIL_DOMAIN}": MAIL_PASSWORD}
REJECT_DOMAIN = "reject.test"  # the SMTP server answers 550 to RCPT in this domain
MAIL_SERVERS = ("dovecot", "mailutils")  # every IMAP/POP3 connector test runs against each


@dataclass(frozen=True)
class MailUser:
    address: str
    password: str


@pytest.fixture(scope="session")
def stack_dir() -> Iterator[Path]:
    """A private work dir for the session's servers, removed at the end.

    Not pytest's ``tmp_path_factory``: its dirs are 0700, and Dovecot's unprivileged
    workers must be able to traverse into their work dir.
    """
    path = Path(tempfile.mkdtemp(prefix="devstack-tests-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def test_ca(stack_dir: Path) -> TestCA:
    return TestCA.create(stack_dir / "ca")


@pytest.fixture(scope="session")
def azurite(stack_dir: Path) -> Iterator[Azurite]:
    server = Azurite(stack_dir / "azurite", in_memory=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dovecot(stack_dir: Path, test_ca: TestCA) -> Iterator[Dovecot]:
    server = Dovecot(stack_dir / "dovecot", test_ca, MAIL_USERS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mailutils(stack_dir: Path, test_ca: TestCA) -> Iterator[Mailutils]:
    """GNU Mailutils imap4d + pop3d: mbox storage, UIDVALIDITY kept in the mailbox, TLS-required ports."""
    server = Mailutils(stack_dir / "mailutils", test_ca, MAIL_USERS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=MAIL_SERVERS)
def mail_server(request: pytest.FixtureRequest) -> MailServer:
    """Each IMAP/POP3 server of the stack in turn; a test using it runs once per server."""
    server: MailServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture(scope="session")
def smtp_server(test_ca: TestCA, dovecot: Dovecot) -> Iterator[SmtpServer]:
    """Submission + SMTPS for ``MAIL_USERS``, relaying what it accepts into ``dovecot``."""
    server = SmtpServer(
        test_ca,
        MAIL_USERS,
        relay_to_lmtp=(dovecot.host, dovecot.lmtp_port),
        reject_domains=[REJECT_DOMAIN],
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_user(dovecot: Dovecot) -> MailUser:
    """A new, empty Dovecot mailbox, so tests never see each other's mail."""
    user = MailUser(f"u-{uuid.uuid4().hex[:12]}@{MAIL_DOMAIN}", MAIL_PASSWORD)
    dovecot.add_user(user.address, user.password)
    return user


@pytest.fixture
def server_user(mail_server: MailServer) -> MailUser:
    """A new, empty mailbox on ``mail_server``."""
    user = MailUser(f"u-{uuid.uuid4().hex[:12]}@{MAIL_DOMAIN}", MAIL_PASSWORD)
    mail_server.add_user(user.address, user.password)
    return user
