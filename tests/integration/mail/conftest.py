"""Helpers for the IMAP/POP3 connector tests: connection settings per port, test mail, the flaky proxy."""

from __future__ import annotations

import email
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import pytest
from imapclient import IMAPClient

from devstack import MailServer, TestCA
from devstack.certs import SERVER_HOSTNAME
from devstack.ports import LOOPBACK
from sync.mail.port import ConnectionSettings
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MailUser

TIMEOUT_S = 5.0  # generous for loopback; the tests that need a timeout set their own


def settings(
    user: MailUser,
    port: int,
    tls: str,
    *,
    ca: TestCA | None,
    host: str = SERVER_HOSTNAME,
    password: str | None = None,
    timeout: float = TIMEOUT_S,
) -> ConnectionSettings:
    """Settings for ``user``; ``ca=None`` means system trust only, which does not know the test CA."""
    return ConnectionSettings(
        host=host,
        port=port,
        username=user.address,
        password=user.password if password is None else password,
        tls=tls,
        timeout_seconds=timeout,
        ca_file=str(ca.ca_cert) if ca is not None else None,
    )


def new_message(to: str, *, body: str | None = None) -> tuple[bytes, str]:
    """An RFC 5322 message with a unique Message-ID (returned without angle brackets)."""
    message_id = f"{uuid.uuid4().hex}@connector.test"
    message = EmailMessage()
    message["From"] = "sender@example.test"
    message["To"] = to
    message["Subject"] = f"connector test {message_id}"
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(body if body is not None else f"body of {message_id}\n")
    return message.as_bytes(), message_id


def deliver(server: MailServer, user: MailUser, count: int) -> list[str]:
    """Deliver ``count`` messages, in order; their Message-IDs."""
    ids = []
    for _ in range(count):
        raw, message_id = new_message(user.address)
        server.deliver(user.address, raw)
        ids.append(message_id)
    return ids


def message_id_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw)["Message-ID"]).strip("<>")


@contextmanager
def imap_admin(server: MailServer, ca: TestCA, user: MailUser, *, select: bool = True) -> Iterator[Any]:
    """A test-side IMAPS client (not the connector under test) to arrange and inspect the mailbox.

    APPEND with ``select=False``: Mailutils 3.15 loses what a session APPENDs to the mailbox it has selected.
    """
    client = IMAPClient(SERVER_HOSTNAME, port=server.imaps_port, ssl_context=ca.ssl_client_context(), timeout=5)
    try:
        client.login(user.address, user.password)
        if select:
            client.select_folder("INBOX")
        yield client
    finally:
        client.logout()


@pytest.fixture
def proxy() -> Iterator[Callable[[int], FlakyProxy]]:
    """Start a flaky proxy in front of a local server's plaintext port; all are stopped in teardown."""
    started: list[FlakyProxy] = []

    def start(port: int) -> FlakyProxy:
        started.append(FlakyProxy(LOOPBACK, port).start())
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            running.stop()
