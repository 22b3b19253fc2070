"""Delete after processing (R-FWD-4) on Dovecot and Mailutils: only settled messages, none lost to a crash."""

from __future__ import annotations

import imaplib
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from sync.incoming.processor import IncomingProcessor
from sync.model import EmailServerProfile
from sync.model.options import FilteringMethod
from tests.integration.incoming.conftest import Killed, World, dying_process, message
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration

CRASH_ON = 27  # of 30: after the checkpoint at 25, before the folder's final one


def _inbox_subjects(world: World, address: str) -> list[str]:
    with imaplib.IMAP4("127.0.0.1", world.server.imap_port) as imap:
        imap.login(address, MAIL_PASSWORD)
        _, exists = imap.select("INBOX", readonly=True)
        if int(exists[0] or 0) == 0:
            return []
        _, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    return sorted(bytes(part[1]).decode().partition(":")[2].strip() for part in data if isinstance(part, tuple))


def _protocol(world: World, name: str) -> EmailServerProfile:
    return world.pop3 if name == "pop3" else world.imap


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_a_crash_between_checkpoints_deletes_every_tracked_message_on_the_next_cycle(
    world: World, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    mailbox = world.user_mailbox(_protocol(world, protocol), FilteringMethod.ALL_EMAIL, queue=True, delete_after=True)
    address = mailbox.email_address or ""
    mids = []
    for n in range(30):
        raw, mid = message(address, subject=f"crash {n:02}")
        world.server.deliver(address, raw)
        mids.append(mid)
    calls = {"n": 0}
    original = IncomingProcessor.process

    def die_on(self: IncomingProcessor, raw: bytes, received_on: object = None, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == CRASH_ON:
            raise Killed
        return original(self, raw, received_on, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch, dying_process(world, patch), pytest.raises(Killed):
        patch.setattr(IncomingProcessor, "process", die_on)
        world.cycle(mailbox)
    watermark = world.store.get_mailbox(mailbox.id).watermarks.get("INBOX")
    pending = watermark.pending_deletes if watermark else []
    report = world.cycle(mailbox)  # the lease is taken again, as after its expiry

    # the checkpoint at 25 lists as pending deletions exactly the tracked messages its watermark covers: those
    # before the first whose writes were still in flight (the others are fetched again, replays, then deleted)
    assert len(pending) <= 25
    if watermark is not None and protocol == "pop3":
        assert watermark.processed_keys == pending
    elif watermark is not None:
        assert watermark.last_uid == max(int(key.rpartition(":")[2]) for key in pending)
    assert report.status == "processed"
    assert _inbox_subjects(world, address) == []  # every tracked message deleted, none left for good
    assert all(world.emails_with_message_id(f"<{mid}>") == 1 for mid in mids)  # none tracked twice
    assert world.store.get_mailbox(mailbox.id).watermarks["INBOX"].pending_deletes == []


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
def test_a_message_that_was_not_settled_is_never_deleted(world: World, protocol: str) -> None:
    """An item failure (here InvalidSender: no From) stays on the server for the administrator, cycle after cycle."""
    mailbox = world.user_mailbox(_protocol(world, protocol), FilteringMethod.ALL_EMAIL, queue=True, delete_after=True)
    address = mailbox.email_address or ""
    tracked, _ = message(address, subject="tracked")
    unreadable = EmailMessage()
    unreadable["To"] = address
    unreadable["Subject"] = "no sender"
    unreadable["Message-ID"] = make_msgid(domain="fabrikam.test")
    unreadable.set_content("Cannot display Unicode content.")
    world.server.deliver(address, tracked)
    world.server.deliver(address, unreadable.as_bytes())

    first = world.cycle(mailbox)
    world.server.deliver(address, message(address, subject="later")[0])
    second = world.cycle(mailbox)

    assert (first.tracked, first.reasons["InvalidSender"], first.deleted) == (1, 1, 1)
    assert (second.tracked, second.deleted) == (1, 1)
    assert _inbox_subjects(world, address) == ["no sender"]
