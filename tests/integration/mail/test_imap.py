"""The IMAP connector against a real Dovecot: listing, reading, watermarks and deletion."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from devstack import Dovecot, TestCA
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
    dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser
) -> None:
    ids = deliver(dovecot, mail_user, 3)

    with ImapConnector().open(settings(mail_user, dovecot.imaps_port, "implicit", ca=test_ca)) as session:
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


def test_body_peek_leaves_seen_unset(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    deliver(dovecot, mail_user, 2)

    with ImapConnector().open(settings(mail_user, dovecot.imaps_port, "implicit", ca=test_ca)) as session:
        for message in session.list_new(empty_watermark(), NOTHING):
            session.fetch(message)

    with imap_admin(dovecot, test_ca, mail_user) as admin:
        flags = admin.get_flags(admin.search("ALL"))
    assert len(flags) == 2
    assert all(b"\\Seen" not in message_flags for message_flags in flags.values())


def test_starttls_delete_removes_only_the_given_messages(
    dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser
) -> None:
    first, _, third = deliver(dovecot, mail_user, 3)
    starttls = settings(mail_user, dovecot.imap_port, "starttls", ca=test_ca)

    with imap_admin(dovecot, test_ca, mail_user) as admin:
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
    dovecot: Dovecot, mail_user: MailUser, proxy: Callable[[int], FlakyProxy]
) -> None:
    """Counted on the wire: the proxy records every byte the client sends, one line per IMAP command."""
    wire = proxy(dovecot.imap_port)
    plaintext = settings(mail_user, wire.port, "none", ca=None, host=wire.host)
    deliver(dovecot, mail_user, 2)
    with ImapConnector().open(plaintext) as session:
        watermark = empty_watermark()
        for message in session.list_new(watermark, NOTHING):
            watermark = session.advance(watermark, message)

    with ImapConnector().open(plaintext) as session:
        mark = wire.client_bytes()
        idle = session.list_new(watermark, NOTHING)
        idle_commands = wire.client_lines_since(mark)

        deliver(dovecot, mail_user, 1)
        mark = wire.client_bytes()
        busy = session.list_new(watermark, NOTHING)
        busy_commands = wire.client_lines_since(mark)

    assert idle == []
    assert commands(idle_commands) == ["EXAMINE"]
    assert len(busy) == 1 and busy[0].uid == (watermark.last_uid or 0) + 1
    assert commands(busy_commands) == ["EXAMINE", "UID SEARCH", "UID FETCH"]


def test_uidvalidity_change_falls_back_to_internaldate(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    stored_until = now - timedelta(days=2)
    # Too old; older by less than SEARCH SINCE's one-day slack; stored; same second, not stored yet; newer.
    dates = [now - timedelta(days=10), stored_until - timedelta(hours=12), stored_until, stored_until, now]
    ids = []
    with imap_admin(dovecot, test_ca, mail_user) as admin:
        for date in dates:
            raw, message_id = new_message(mail_user.address)
            admin.append("INBOX", raw, msg_time=date)
            ids.append(message_id)

    with ImapConnector().open(settings(mail_user, dovecot.imaps_port, "implicit", ca=test_ca)) as session:
        everything = session.list_new(empty_watermark(), NOTHING)
        uid_validity = int(everything[0].key.split(":")[0])
        stale = FolderWatermark(
            folder="INBOX", uid_validity=uid_validity + 1, last_uid=10_000, last_received_on=stored_until
        )
        after_change = session.list_new(stale, NOTHING)
        first_run = session.list_new(FolderWatermark(folder="INBOX", uid_validity=uid_validity + 1), NOTHING)
        restarted = session.advance(stale, after_change[0])
        fetched = [message_id_of(session.fetch(message)) for message in after_change]

    assert [m.received_on for m in everything] == dates
    assert fetched == ids[2:]  # INTERNALDATE >= last_received_on; the stored one is left to the Message-ID dedupe
    assert len(first_run) == 5  # no date yet: everything
    assert (restarted.uid_validity, restarted.last_uid) == (uid_validity, after_change[0].uid)  # not max(10_000, …)
    assert restarted.last_received_on == stored_until


def test_processed_keys_are_skipped_too(dovecot: Dovecot, test_ca: TestCA, mail_user: MailUser) -> None:
    deliver(dovecot, mail_user, 2)
    with ImapConnector().open(settings(mail_user, dovecot.imaps_port, "implicit", ca=test_ca)) as session:
        listed = session.list_new(empty_watermark(), NOTHING)
        rest = session.list_new(empty_watermark(), frozenset({listed[0].key}))
    assert rest == listed[1:]
