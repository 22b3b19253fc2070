"""CreateItem through exchangelib: saving a draft, and sending (with or without a copy) by MIME or by fields."""

from __future__ import annotations

import pytest
from exchangelib import Account, HTMLBody, Mailbox, Message

from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE, BOB, mime

pytestmark = pytest.mark.integration


def test_send_and_save_by_mime_keeps_the_message_id_and_delivers_locally(alice: Account, ews_server: EwsServer) -> None:
    raw = mime("out1", to=f"{BOB}, someone@elsewhere.test", sender=ALICE)
    Message(account=alice, folder=alice.sent, mime_content=raw).send_and_save()

    [sent] = ews_server.sent_messages
    assert (sent.sender, sent.mime) == (ALICE, raw)
    assert sent.recipients == (BOB, "someone@elsewhere.test")
    [copy] = ews_server.items(ALICE, "sentitems")
    assert (copy.message_id, copy.is_read, copy.mime) == ("<out1@example.test>", True, raw)
    [delivered] = ews_server.items(BOB, "inbox")
    assert (delivered.message_id, delivered.is_read) == ("<out1@example.test>", False)
    assert ews_server.calls["CreateItem"] == 1
    assert [item.message_id for item in alice.sent.filter(message_id="<out1@example.test>")] == ["<out1@example.test>"]


def test_send_only_by_fields_reaches_every_recipient_and_keeps_no_copy(alice: Account, ews_server: EwsServer) -> None:
    message = Message(
        account=alice,
        subject="Quote",
        body=HTMLBody("<p>Hello</p>"),
        to_recipients=[Mailbox(email_address=BOB)],
        bcc_recipients=[Mailbox(email_address="audit@elsewhere.test")],
    )
    message.send(save_copy=False)

    [sent] = ews_server.sent_messages
    assert sent.recipients == (BOB, "audit@elsewhere.test")
    assert ews_server.items(ALICE, "sentitems") == []
    [delivered] = ews_server.items(BOB, "inbox")
    assert delivered.subject == "Quote" and delivered.message_id  # the server gave it a Message-ID
    assert b"<p>Hello</p>" in delivered.mime and b"audit@elsewhere.test" not in delivered.mime


def test_save_only_stores_a_draft_and_returns_its_id(alice: Account, ews_server: EwsServer) -> None:
    draft = Message(account=alice, folder=alice.drafts, subject="Draft", to_recipients=[Mailbox(email_address=BOB)])
    draft.save()
    [stored] = ews_server.items(ALICE, "drafts")
    assert (draft.id, draft.changekey) == (stored.item_id, stored.change_key)
    assert ews_server.sent_messages == []
