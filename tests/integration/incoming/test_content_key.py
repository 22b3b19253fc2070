"""A message without a Message-ID is tracked once, however the servers on its way dressed it.

Real Dovecot: LMTP puts its own ``Return-Path``, ``Delivered-To`` and ``Received`` (with a fresh id) on top
of every delivery, and the copy below also carries the mbox ``X-UID``/``Status``/``X-IMAPbase`` headers a
mailbox store adds. The watermark is reset as Test & Enable resets it, so the next cycle lists both copies.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from sync.model import EmailServerProfile, Mailbox
from sync.model.mailbox import FolderWatermark
from sync.model.options import FilteringMethod
from tests.integration.incoming.conftest import World

pytestmark = pytest.mark.integration

INBOX = "INBOX"
MBOX_HEADERS = b"X-UID: 7\r\nStatus: RO\r\nX-Status: A\r\nX-IMAPbase: 1700000000 0000000007\r\nContent-Length: 120\r\n"


def _without_message_id(to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carol <carol@fabrikam.test>"
    msg["To"] = to
    msg["Date"] = "Mon, 02 Mar 2026 09:15:00 +0100"
    msg["Subject"] = "No Message-ID here"
    msg.set_content("Hi there,\n\nsent by a client that writes no Message-ID.\n")
    return msg.as_bytes()


def _reset_watermark(world: World, mailbox: Mailbox) -> None:
    """What Test & Enable does to the Inbox watermark after a successful incoming test (R-TE-9)."""

    def reset(m: Mailbox) -> None:
        inbox = m.watermarks.get(INBOX)
        pending = inbox.pending_deletes if inbox else []
        m.watermarks = {**m.watermarks, INBOX: FolderWatermark(folder=INBOX, pending_deletes=pending)}

    world.store.mailboxes.modify(mailbox.id, "mailbox", reset)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_a_message_without_a_message_id_stays_one_email_after_redelivery_and_a_reset(
    world: World, protocol: str
) -> None:
    profile: EmailServerProfile = getattr(world, protocol)
    mailbox = world.user_mailbox(profile, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    raw = _without_message_id(address)
    world.server.deliver(address, raw)
    assert world.cycle(mailbox).tracked == 1

    world.server.deliver(address, MBOX_HEADERS + raw)  # the same message again, dressed differently
    _reset_watermark(world, mailbox)
    report = world.cycle(mailbox)

    assert (report.fetched, report.tracked) == (2, 0), report
    assert report.reasons["AlreadyProcessed"] == 2, report
    (email,) = world.store.emails.query("receiving_mailbox_id eq @m", {"m": mailbox.id})
    assert email.message_id is None and email.subject == "No Message-ID here"
