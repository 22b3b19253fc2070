"""A delete-after-processing POP3 mailbox on a server that alters UTF-8 mail unless UTF8 is enabled (Courier)."""

from __future__ import annotations

import uuid

import pytest

from sync.model import EmailServerProfile
from sync.model.options import FilteringMethod, ServerType
from sync.model.profile import TlsMode
from tests.integration.incoming.conftest import World
from tests.pop3.server import Utf8Pop3Server
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


def test_utf8_header_mail_is_tracked_as_sent_and_then_deleted(world: World, utf8_pop3: Utf8Pop3Server) -> None:
    profile = world.store.profiles.insert(
        EmailServerProfile(
            name="Courier-like POP3",
            server_type=ServerType.POP3_SMTP,
            incoming_server_location="localhost",
            incoming_port=utf8_pop3.port,
            incoming_tls=TlsMode.IMPLICIT,
            timeout_mailbox_connection_after_ms=5000,
        )
    )
    mailbox = world.user_mailbox(profile, FilteringMethod.ALL_EMAIL, queue=True, delete_after=True)
    address = mailbox.email_address or ""
    message_id = f"<{uuid.uuid4().hex}@fabrikam.test>"
    utf8_pop3.add_user(address, MAIL_PASSWORD)
    utf8_pop3.deliver(
        address,
        (
            f"From: José Müller <jose@fabrikam.test>\r\nTo: {address}\r\nSubject: Größe\r\n"
            f"Message-ID: {message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n"
        ).encode(),
    )

    report = world.cycle(mailbox)

    assert (report.tracked, report.deleted, report.reasons["InvalidSender"]) == (1, 1, 0)
    (email,) = world.store.emails.query("message_id eq @m", {"m": message_id})
    assert email.subject == "Größe"
    assert utf8_pop3.maildrops[address].messages == {}  # deleted at QUIT, once tracked
