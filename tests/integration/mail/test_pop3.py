"""The POP3 connector against a real Dovecot: UIDL listing, RETR, processed keys and two-phase deletion."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from devstack import Dovecot, TestCA
from sync.mail.errors import TransientMailError
from sync.mail.pop3 import Pop3Connector
from sync.model.mailbox import FolderWatermark
from tests.integration.mail.conftest import deliver, message_id_of, settings
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MailUser

pytestmark = pytest.mark.integration

NOTHING = frozenset[str]()
UIDL = re.compile(r"^[0-9a-f]{16}$")  # Dovecot's pop3_uidl_format = %08Xu%08Xv


def test_implicit_tls_round_trip_lists_fetches_and_keeps_the_watermark(
    dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser
) -> None:
    ids = deliver(dovecot, mail_user, 3)
    watermark = FolderWatermark(folder="INBOX")

    with Pop3Connector().open(settings(mail_user, dovecot.pop3s_port, "implicit", ca=test_ca)) as session:
        listed = session.list_new(watermark, NOTHING)
        bodies = [session.fetch(message) for message in listed]
        advanced = session.advance(watermark, listed[-1])
        again = session.list_new(watermark, frozenset(m.key for m in listed))

    assert [message_id_of(raw) for raw in bodies] == ids  # maildrop order: oldest first
    assert all(UIDL.match(m.key) and m.received_on is None and m.uid is None for m in listed)
    assert [m.size for m in listed] == [len(raw) for raw in bodies]  # bytes back exactly as stored
    assert advanced == watermark
    assert again == []


def test_stls_skips_processed_and_deletes_only_the_given_on_quit(
    dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser
) -> None:
    first, _, third = deliver(dovecot, mail_user, 3)
    stls = settings(mail_user, dovecot.pop3_port, "starttls", ca=test_ca)

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
    dovecot: Dovecot, mail_user: MailUser, proxy: Callable[[int], FlakyProxy]
) -> None:
    """Counted on the wire: the proxy records every byte the client sends, one line per POP3 command."""
    wire = proxy(dovecot.pop3_port)
    plaintext = settings(mail_user, wire.port, "none", ca=None, host=wire.host)
    deliver(dovecot, mail_user, 2)

    with Pop3Connector().open(plaintext) as session:
        processed = frozenset(m.key for m in session.list_new(FolderWatermark(folder="INBOX"), NOTHING))
        mark = wire.client_bytes()
        idle = session.list_new(FolderWatermark(folder="INBOX"), processed)
        idle_commands = wire.client_lines_since(mark)

    assert idle == []
    assert idle_commands == [b"UIDL"]


def test_dropped_link_rolls_deletions_back(
    dovecot: Dovecot, mail_user: MailUser, proxy: Callable[[int], FlakyProxy]
) -> None:
    wire = proxy(dovecot.pop3_port)
    plaintext = settings(mail_user, wire.port, "none", ca=None, host=wire.host)
    deliver(dovecot, mail_user, 2)

    session = Pop3Connector().open(plaintext)
    listed = session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
    wire.cut_after(0)  # the server gets DELE, its answer never arrives, QUIT is never sent
    with pytest.raises(TransientMailError):
        session.delete(listed)
    session.close()
    with Pop3Connector().open(plaintext) as again:
        still_there = again.list_new(FolderWatermark(folder="INBOX"), NOTHING)

    assert wire.cuts == 1
    assert still_there == listed


def test_long_lines_are_read(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    """poplib's own limit is 2048 bytes a line; real mail (unwrapped base64, one-line HTML) has longer."""
    message_id = "long-line@connector.test"
    raw = f"Message-ID: <{message_id}>\r\nSubject: long\r\n\r\n{'x' * 10_000}\r\n".encode()
    dovecot.deliver(mail_user.address, raw)

    with Pop3Connector().open(settings(mail_user, dovecot.pop3s_port, "implicit", ca=test_ca)) as session:
        (listed,) = session.list_new(FolderWatermark(folder="INBOX"), NOTHING)
        body = session.fetch(listed)

    assert message_id_of(body) == message_id
    assert b"x" * 10_000 in body
