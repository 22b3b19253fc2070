"""The SMTP envelope is exactly the checked addresses: what RCPT TO names is what the To header says.

Against the real aiosmtpd server of the local stack: smtplib's own ``rcpt`` re-parsed each address as a
header, and ``postmaster,x@evil.test`` went out as ``RCPT TO:<postmaster>``.
"""

from __future__ import annotations

import uuid

import pytest

from devstack import SmtpServer, TestCA
from sync.outgoing.port import Envelope, SmtpEndpoint
from sync.outgoing.smtp import SmtpConnector
from tests.stack_fixtures import MAIL_DOMAIN, MAIL_PASSWORD

pytestmark = pytest.mark.integration

SENDER = f"alice@{MAIL_DOMAIN}"


def _send(server: SmtpServer, ca: TestCA, rcpt_tos: tuple[str, ...]) -> dict[str, int]:
    message_id = f"{uuid.uuid4().hex}@example.test"
    data = f"From: {SENDER}\r\nTo: x@example.test\r\nMessage-ID: <{message_id}>\r\nSubject: t\r\n\r\nbody\r\n".encode()
    endpoint = SmtpEndpoint(
        host="localhost",
        port=server.submission_port,
        tls="starttls",
        auth="password",
        username=SENDER,
        password=MAIL_PASSWORD,
        ca_file=str(ca.ca_cert),
    )
    session = SmtpConnector().open(endpoint)
    try:
        sent = session.transmit(Envelope(SENDER, rcpt_tos, data, False), lambda rcpt: True)
    finally:
        session.close()
    return {address: reply.code for address, reply in sent.rcpt.items()}


def _received_rcpts(server: SmtpServer) -> set[str]:
    return {address for message in server.messages for address in message.rcpt_tos}


def test_a_quoted_local_part_goes_out_as_it_was_checked(smtp_server: SmtpServer, test_ca: TestCA) -> None:
    quoted = '"postmaster,x"@example.test'
    assert _send(smtp_server, test_ca, (quoted,)) == {quoted: 250}
    assert quoted in _received_rcpts(smtp_server)


def test_an_address_that_is_not_a_mailbox_is_never_sent(smtp_server: SmtpServer, test_ca: TestCA) -> None:
    before = _received_rcpts(smtp_server)
    codes = _send(smtp_server, test_ca, ("postmaster,x@evil.test", f"bob@{MAIL_DOMAIN}"))
    assert codes == {"postmaster,x@evil.test": 553, f"bob@{MAIL_DOMAIN}": 250}
    new = _received_rcpts(smtp_server) - before
    assert "postmaster" not in new and "postmaster,x@evil.test" not in new
