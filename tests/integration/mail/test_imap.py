"""The IMAP connector against each local server (Dovecot, Mailutils): listing, reading, watermarks and deletion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from devstack import MailServer, TestCA
from sync.mail import imap
from sync.mail.imap import ImapConnector, message_key, parse_key
from sync.mail.port import RemoteMessage
from sync.model.mailbox import FolderWatermark
from tests.integration.mail.conftest import deliver, imap_admin, message_id_of, new_message, settings
from tests.integration.mail.flaky_proxy import FlakyProxy
from tests.stack_fixtures import MailUser

pytestmark = pytest.mark.integration

NOTHING = frozenset[str]()


def commands(lines: list[bytes]) -> list[str]:
    """``b'A12 UID FETCH 3 (...)'`` -> ``"UID FETCH"``: the tag dropped, UID kept with its command."""
    words = [line.decode().split()[1:3] for line in lines]
    return [" ".join(w) if w[0] == "UID" else w[0] for w in words]


def empty_watermark() -> FolderWatermark:
    return FolderWatermark(folder="INBOX")


def test_implicit_tls_round_trip_lists_fetches_and_advances(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    ids = deliver(mail_server, server_user, 3)

    with ImapConnector().open(settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)) as session:
        listed = session.list_new(empty_watermark(), NOTHING)
        bodies = [session.fetch(message) for message in listed]
        watermark = empty_watermark()
        for message in listed:
            watermark = session.advance(watermark, message)
        again = session.list_new(watermark, NOTHING)

    uids = [message.uid for message in listed if message.uid is not None]
    dates = [message.received_on for message in listed if message.received_on is not None]
    assert [message_id_of(raw) for raw in bodies] == ids  # oldest first
    assert len(set(uids)) == 3 and uids == sorted(uids)
    assert [m.key for m in listed] == [f"{watermark.uid_validity}:{uid}" for uid in uids]
    assert [m.size for m in listed] == [len(raw) for raw in bodies]  # RFC822.SIZE is the exact byte count
    assert len(dates) == 3 and all(date.tzinfo is not None for date in dates)
    assert (watermark.last_uid, watermark.last_received_on) == (uids[-1], max(dates))
    assert again == []


def test_body_peek_leaves_seen_unset(mail_server: MailServer, test_ca: TestCA, server_user: MailUser) -> None:
    deliver(mail_server, server_user, 2)

    with ImapConnector().open(settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)) as session:
        for message in session.list_new(empty_watermark(), NOTHING):
            session.fetch(message)

    with imap_admin(mail_server, test_ca, server_user) as admin:
        flags = admin.get_flags(admin.search("ALL"))
    assert len(flags) == 2
    assert all(b"\\Seen" not in message_flags for message_flags in flags.values())


def test_starttls_delete_removes_only_the_given_messages(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    first, _, third = deliver(mail_server, server_user, 3)
    starttls = settings(server_user, mail_server.imap_port, "starttls", ca=test_ca)

    with imap_admin(mail_server, test_ca, server_user) as admin:
        admin.add_flags([max(admin.search("ALL"))], [b"\\Deleted"])  # the user's own pending deletion

    with ImapConnector().open(starttls) as session:
        listed = session.list_new(empty_watermark(), NOTHING)
        uid_validity, first_uid = parse_key(listed[0].key)
        old_epoch = RemoteMessage(key=message_key(uid_validity - 1, first_uid), size=0, received_on=None)
        session.delete([listed[1], old_epoch])  # a key from another UIDVALIDITY is ignored, not deleted
    with ImapConnector().open(starttls) as session:
        remaining = [message_id_of(session.fetch(m)) for m in session.list_new(empty_watermark(), NOTHING)]

    assert remaining == [first, third]  # UID EXPUNGE left the user's flagged message alone


def test_idle_cycle_is_one_command_after_login(
    mail_server: MailServer, server_user: MailUser, proxy: Callable[[int], FlakyProxy]
) -> None:
    """Counted on the wire: the proxy records every byte the client sends, one line per IMAP command."""
    wire = proxy(mail_server.imap_port)
    plaintext = settings(server_user, wire.port, "none", ca=None, host=wire.host)
    deliver(mail_server, server_user, 2)
    with ImapConnector().open(plaintext) as session:
        watermark = empty_watermark()
        for message in session.list_new(watermark, NOTHING):
            watermark = session.advance(watermark, message)

    with ImapConnector().open(plaintext) as session:
        mark = wire.client_bytes()
        idle = session.list_new(watermark, NOTHING)
        idle_commands = wire.client_lines_since(mark)

    deliver(mail_server, server_user, 1)
    with ImapConnector().open(plaintext) as session:  # the next cycle: a new session
        mark = wire.client_bytes()
        busy = session.list_new(watermark, NOTHING)
        busy_commands = wire.client_lines_since(mark)

    assert idle == []
    assert commands(idle_commands) == ["SELECT"]
    if mail_server.name == "mailutils" and all(m.revisit for m in busy):
        # Mailutils starts a new UIDVALIDITY when it finds mail delivered without its X-UID header (unless in the
        # same second): the whole Inbox comes back as revisits, which the worker skips by Message-ID if tracked.
        assert len(busy) == 3 and all(m.message_id for m in busy)
        assert commands(busy_commands) == ["SELECT", "UID SEARCH", "UID FETCH"]
    else:
        assert len(busy) == 1 and busy[0].uid == (watermark.last_uid or 0) + 1 and not busy[0].revisit
        assert commands(busy_commands) == ["SELECT", "UID FETCH"]  # the UIDs below UIDNEXT, no SEARCH


def test_uidvalidity_change_lists_every_message_as_a_revisit_with_its_message_id(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    """Mail APPENDed or copied into the Inbox keeps an older INTERNALDATE than the watermark: still listed."""
    now = datetime.now(UTC).replace(microsecond=0)
    stored_until = now - timedelta(days=2)
    dates = [now - timedelta(days=10), stored_until, now]  # the first: appended with an old date
    ids = []
    with imap_admin(mail_server, test_ca, server_user, select=False) as admin:
        for date in dates:
            raw, message_id = new_message(server_user.address)
            admin.append("INBOX", raw, msg_time=date)
            ids.append(message_id)

    with ImapConnector().open(settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)) as session:
        everything = session.list_new(empty_watermark(), NOTHING)
        uid_validity = int(everything[0].key.split(":")[0])
        stale = FolderWatermark(
            folder="INBOX", uid_validity=uid_validity + 1, last_uid=10_000, last_received_on=stored_until
        )
        after_change = session.list_new(stale, NOTHING)
        restarted = session.advance(stale, after_change[0])

    assert [m.received_on for m in everything] == dates
    assert not any(m.revisit for m in everything)  # a first run: all new, nothing to look up
    assert [m.message_id for m in after_change] == [f"<{message_id}>" for message_id in ids]
    assert all(m.revisit for m in after_change)  # the worker skips what it tracked, without downloading it
    assert (restarted.uid_validity, restarted.last_uid) == (uid_validity, after_change[0].uid)  # not max(10_000, …)
    assert restarted.last_received_on == stored_until


def test_an_idle_session_keeps_the_uidvalidity_and_lists_nothing(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    """Mailutils (like Courier) keeps UIDs in the mailbox and under EXAMINE reported a new UIDVALIDITY each session."""
    deliver(mail_server, server_user, 2)
    implicit = settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)
    with ImapConnector().open(implicit) as session:
        watermark = empty_watermark()
        for message in session.list_new(watermark, NOTHING):
            watermark = session.advance(watermark, message)
    idle = []
    for _ in range(2):
        with ImapConnector().open(implicit) as session:
            idle.append(session.list_new(watermark, NOTHING))

    assert watermark.last_uid is not None
    assert idle == [[], []]


def test_mail_delivered_after_an_expunge_is_listed(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser
) -> None:
    """Once UIDs and sequence numbers differ, Mailutils answers "UID SEARCH UID n:m" with nothing."""
    deliver(mail_server, server_user, 2)
    implicit = settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)
    with ImapConnector().open(implicit) as session:
        listed = session.list_new(empty_watermark(), NOTHING)
        watermark = empty_watermark()
        for message in listed:
            watermark = session.advance(watermark, message)
        session.delete(listed[:1])
    (later,) = deliver(mail_server, server_user, 1)
    with ImapConnector().open(implicit) as session:
        fetched = [message_id_of(session.fetch(m)) for m in session.list_new(watermark, NOTHING)]

    assert later in fetched


def test_a_backlog_beyond_one_fetch_is_listed(
    mail_server: MailServer, test_ca: TestCA, server_user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More new UIDs than one FETCH takes: found by UID SEARCH, which Mailutils answers with nothing."""
    ids = deliver(mail_server, server_user, 5)
    implicit = settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)
    with ImapConnector().open(implicit) as session:
        first = session.list_new(empty_watermark(), NOTHING)[0]
        watermark = session.advance(empty_watermark(), first)
    monkeypatch.setattr(imap, "FETCH_CHUNK", 2)
    with ImapConnector().open(implicit) as session:
        backlog = [message_id_of(session.fetch(m)) for m in session.list_new(watermark, NOTHING)]

    assert backlog == ids[1:]


def test_processed_keys_are_skipped_too(mail_server: MailServer, test_ca: TestCA, server_user: MailUser) -> None:
    deliver(mail_server, server_user, 2)
    with ImapConnector().open(settings(server_user, mail_server.imaps_port, "implicit", ca=test_ca)) as session:
        listed = session.list_new(empty_watermark(), NOTHING)
        rest = session.list_new(empty_watermark(), frozenset({listed[0].key}))
    assert [m.key for m in rest] == [m.key for m in listed[1:]]  # sizes: Mailutils adds its X-UID on SELECT
