"""IMAP cycles on Dovecot and Mailutils: idle cycles download nothing, old-dated mail is tracked, \\Seen is kept."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from imapclient import IMAPClient

from sync.model import Mailbox
from sync.model.fields import utcnow
from sync.model.options import FilteringMethod
from tests.integration.incoming.conftest import World, message
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration

SEEN = b"\\Seen"


@contextmanager
def _user_client(world: World, mailbox: Mailbox) -> Iterator[Any]:
    """The mailbox owner's own mail client (APPEND without a selected mailbox: see tests/integration/mail)."""
    client = IMAPClient("127.0.0.1", port=world.server.imap_port, ssl=False, timeout=5)
    try:
        client.login(mailbox.email_address or "", MAIL_PASSWORD)
        yield client
    finally:
        client.logout()


def _seen_by_subject(world: World, mailbox: Mailbox) -> dict[str, bool]:
    with _user_client(world, mailbox) as client:
        client.select_folder("INBOX", readonly=True)
        answer = client.fetch(client.search("ALL"), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
    return {
        bytes(items[b"BODY[HEADER.FIELDS (SUBJECT)]"]).decode().partition(":")[2].strip(): SEEN in items[b"FLAGS"]
        for items in answer.values()
    }


def test_an_idle_cycle_downloads_nothing_and_seen_flags_stay_as_the_user_left_them(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    world.server.deliver(address, message(address, subject="read")[0])
    with _user_client(world, mailbox) as client:
        client.select_folder("INBOX")
        client.add_flags(client.search("ALL"), [SEEN])  # the user read it
    world.server.deliver(address, message(address, subject="unread")[0])  # no UID stored in the mailbox yet

    first = world.cycle(mailbox)
    idle = world.cycle(mailbox)

    assert (first.tracked, first.fetched) == (2, 2)
    assert (idle.listed, idle.fetched) == (0, 0)  # under EXAMINE, Mailutils gave a new UIDVALIDITY every session
    assert _seen_by_subject(world, mailbox) == {"read": True, "unread": False}


def test_mail_appended_with_an_old_date_is_tracked_also_after_a_uidvalidity_change(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    for n in range(2):
        world.server.deliver(address, message(address, subject=f"tracked {n}")[0])
    first = world.cycle(mailbox)
    watermark = world.store.get_mailbox(mailbox.id).watermarks["INBOX"]

    def new_epoch(m: Mailbox) -> None:  # what a server that renumbered its mailbox looks like to the worker
        stale = watermark.model_copy(update={"uid_validity": (watermark.uid_validity or 0) + 1, "last_uid": 10_000})
        m.watermarks = {**m.watermarks, "INBOX": stale}

    world.store.mailboxes.modify(mailbox.id, "mailbox", new_epoch)
    appended, appended_id = message(address, subject="copied in")
    with _user_client(world, mailbox) as client:
        client.append("INBOX", appended, msg_time=utcnow() - timedelta(days=10))
    after = world.cycle(mailbox)

    assert first.tracked == 2
    assert after.tracked == 1 and world.emails_with_message_id(f"<{appended_id}>") == 1
    assert (after.fetched, after.revisited) == (1, 2)  # the tracked ones are not downloaded
    assert (after.not_tracked, after.reasons["AlreadyProcessed"]) == (0, 0)  # nor counted as emails left out
