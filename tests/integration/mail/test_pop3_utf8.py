"""POP3 UTF8 (RFC 6856) against a server that offers it and alters UTF-8 mail for clients that do not enable it."""

from __future__ import annotations

import poplib

import pytest

from devstack import TestCA
from devstack.certs import SERVER_HOSTNAME
from sync.mail.pop3 import Pop3Connector
from sync.model.mailbox import FolderWatermark
from tests.integration.mail.conftest import settings
from tests.pop3.server import NOTICE, Utf8Pop3Server
from tests.stack_fixtures import MAIL_PASSWORD, MailUser

pytestmark = pytest.mark.integration

UTF8_MESSAGE = (
    "From: José Müller <jose@fabrikam.test>\r\n"
    "To: user@example.test\r\n"
    "Subject: Größenänderung des Auftrags\r\n"
    "Message-ID: <utf8-header@fabrikam.test>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Grüße\r\n"
).encode()


@pytest.fixture
def user(utf8_pop3: Utf8Pop3Server) -> MailUser:
    account = MailUser("user@example.test", MAIL_PASSWORD)
    utf8_pop3.add_user(account.address, account.password)
    utf8_pop3.deliver(account.address, UTF8_MESSAGE)
    return account


def test_utf8_is_enabled_when_offered_and_the_message_arrives_unaltered(
    utf8_pop3: Utf8Pop3Server, test_ca: TestCA, user: MailUser
) -> None:
    with Pop3Connector().open(settings(user, utf8_pop3.port, "implicit", ca=test_ca)) as session:
        (listed,) = session.list_new(FolderWatermark(folder="INBOX"), frozenset())
        raw = session.fetch(listed)

    assert raw == UTF8_MESSAGE
    assert utf8_pop3.commands[:3] == ["CAPA", "UTF8", f"USER {user.address}"]  # UTF8 before login (RFC 6856 §2)


def test_the_server_replaces_utf8_mail_for_a_client_that_did_not_enable_it(
    utf8_pop3: Utf8Pop3Server, test_ca: TestCA, user: MailUser
) -> None:
    """What the connector did before (and Courier does): the proof that the test above tests something."""
    client = poplib.POP3_SSL(SERVER_HOSTNAME, utf8_pop3.port, context=test_ca.ssl_client_context())
    client.user(user.address)
    client.pass_(user.password)
    _, lines, _ = client.retr(1)
    client.quit()

    assert b"".join(line + b"\r\n" for line in lines) == NOTICE
