"""The POP3 connector against each local server (Dovecot, Mailutils): UIDL, RETR, processed keys, deletion."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from devstack import MailServer, TestCA
from sync.mail.errors import TransientMailError
from sync.mail.pop3 import Pop3Connector
from sync.model.mailbox import FolderWatermark
from tests.integration.mail.conftest import deliver, message_id_of, settings
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MailUser

pytestmark = pytest.mark.integration

NOTHING = frozenset[str]()
UIDL = {
    "dovecot": re.compile(r"^[0-9a-f]{16}$"),  # pop3_uidl_format = %08Xu%08Xv
    "mailutils": re.compile(r"^[0-9a-f]{32}\.[0-9]+\.[0-9]+$"),  # MD5 of the message, UIDVALIDITY, UID
}


def test_implicit_tls_round_trip_lists_fetches_and_keeps_the_watermark(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    ids = deliver(mail_server, server_user, 3)
    watermark = FolderWatermark(folder="INBOX")

    with Pop3Connector().open(settings(server_user, mail_server.pop3s_port, "implicit", ca=test_ca)) as session:
        listed = session.list_new(watermark, NOTHING)
        bodies = [session.fetch(message) for message in listed]
        advanced = session.advance(watermark, listed[-1])
        again = session.list_new(watermark, frozenset(m.key for m in listed))

    assert [message_id_of(raw) for raw in bodies] == ids  # maildrop order: oldest first
    assert all(UIDL[mail_server.name].match(m.key) and m.received_on is None and m.uid is None for m in listed)
    assert [m.size for m in listed] == [len(raw) for raw in bodies]  # bytes back exactly as stored
    assert advanced == watermark
    assert again == []


def test_stls_skips_processed_and_deletes_only_the_given_on_quit(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    first, _, third = deliver(mail_server, server_user, 3)
    stls = settings(server_user, mail_server.pop3_port, "starttls", ca=test_ca)

    with Pop3Connector().open(stls) as session:
        listed = session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
        unprocessed = session.list_new(FolderWatermark(folder="INBOX"), frozenset({listed[0].key}))
        session.delete([listed[1]])
    with Pop3Connector().open(stls) as session:
        remaining = [
            message_id_of(session.fetch(m)) for m in session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
        ]

    assert unprocessed == listed[1:]
    assert remaining == [first, third]


def test_idle_cycle_is_one_command_after_login(
    mail_server: MailServer, server_user: MailUser, proxy: Callable[[int], FlakyProxy]
) -> None:
    """Counted on the wire: the proxy records every byte the client sends, one line per POP3 command."""
    wire = proxy(mail_server.pop3_port)
    plaintext = settings(server_user, wire.port, "none", ca=None, host=wire.host)
    deliver(mail_server, server_user, 2)

    with Pop3Connector().open(plaintext) as session:
        processed = frozenset(m.key for m in session.list_new(FolderWatermark(folder="INBOX"), NOTHING))
        mark = wire.client_bytes()
        idle = session.list_new(FolderWatermark(folder="INBOX"), processed)
        idle_commands = wire.client_lines_since(mark)

    assert idle == []
    assert idle_commands == [b"UIDL"]


def test_dropped_link_rolls_deletions_back(
    mail_server: MailServer, server_user: MailUser, proxy: Callable[[int], FlakyProxy]
) -> None:
    wire = proxy(mail_server.pop3_port)
    plaintext = settings(server_user, wire.port, "none", ca=None, host=wire.host)
    deliver(mail_server, server_user, 2)

    session = Pop3Connector().open(plaintext)
    listed = session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
    wire.cut_after(0)  # the server gets DELE, its answer never arrives, QUIT is never sent
    with pytest.raises(TransientMailError):
        session.delete(listed)
    session.close()
    with Pop3Connector().open(plaintext) as again:
        still_there = again.list_new(FolderWatermark(folder="INBOX"), NOTHING)

    assert wire.cuts == 1
    assert [m.key for m in still_there] == [m.key for m in listed]  # sizes: Mailutils stores its X-UIDL in each


def test_long_lines_are_read(mail_server: MailServer, test_ca: TestCA, server_user: MailUser) -> None:
    """poplib's own limit is 2048 bytes a line; real mail (unwrapped base64, one-line HTML) has longer."""
    message_id = "long-line@connector.test"
    raw = f"Message-ID: <{message_id}>\r\nSubject: long\r\n\r\n{'x' * 10_000}\r\n".encode()
    mail_server.deliver(server_user.address, raw)

    with Pop3Connector().open(settings(server_user, mail_server.pop3s_port, "implicit", ca=test_ca)) as session:
        (listed,) = session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
        body = session.fetch(listed)

    assert message_id_of(body) == message_id
    assert b"x" * 10_000 in body
