"""Sending with our own Message-ID, finding the sent copy by it, and a lost reply after the send."""

from __future__ import annotations

import pytest

from sync.mail.errors import PermanentMailError, TransientMailError
from sync.mail.graph.client import GraphClient
from sync.mail.graph.errors import OutcomeUnknown
from tests.graph.server import GraphServer
from tests.integration.graph_server.conftest import new_mime

pytestmark = pytest.mark.integration

CUSTOMER = "customer@example.test"


def in_sent_items(client: GraphClient, mailbox: str, internet_message_id: str) -> list[dict[str, object]]:
    quoted = internet_message_id.replace("'", "''")
    params = {"$filter": f"internetMessageId eq '{quoted}'", "$select": "internetMessageId,isDraft"}
    return list(client.get(f"/users/{mailbox}/mailFolders/sentitems/messages", params)["value"])


def test_sendmail_with_mime_keeps_our_message_id_and_the_copy_is_found_in_sent_items(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    mime, message_id = new_mime("quote 42", to=CUSTOMER)

    assert client.post_mime(f"/users/{mailbox}/sendMail", mime) is None

    [sent] = graph_server.sent_messages(mailbox)
    assert sent.mime == mime
    [copy] = in_sent_items(client, mailbox, message_id)
    assert copy["internetMessageId"] == message_id and copy["isDraft"] is False


def test_a_json_draft_takes_our_internet_message_id_and_send_files_it_in_sent_items(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = "<draft-1@sync.test>"
    draft = client.post(
        f"/users/{mailbox}/messages",
        {
            "subject": "Your case",
            "body": {"contentType": "Text", "content": "Hello."},
            "toRecipients": [{"emailAddress": {"address": CUSTOMER}}],
            "internetMessageId": message_id,
        },
    )
    assert draft is not None and draft["isDraft"] is True and draft["internetMessageId"] == message_id

    assert client.post(f"/users/{mailbox}/messages/{draft['id']}/send") is None

    assert [item["internetMessageId"] for item in in_sent_items(client, mailbox, message_id)] == [message_id]
    assert graph_server.messages(mailbox, "drafts") == []


def test_json_cannot_set_message_id_through_internet_message_headers(client: GraphClient, mailbox: str) -> None:
    message = {"subject": "s", "internetMessageHeaders": [{"name": "Message-ID", "value": "<mine@sync.test>"}]}

    with pytest.raises(PermanentMailError) as refused:
        client.post(f"/users/{mailbox}/sendMail", {"message": message})

    assert refused.value.code == "InvalidInternetMessageHeader"


def test_a_reply_lost_after_sendmail_is_outcome_unknown_and_the_mail_did_go_out(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    mime, message_id = new_mime("lost reply", to=CUSTOMER)
    graph_server.drop_connection_next("sendMail")

    with pytest.raises(OutcomeUnknown):
        client.post_mime(f"/users/{mailbox}/sendMail", mime)

    assert len(in_sent_items(client, mailbox, message_id)) == 1  # so the sender must not send it again
    assert len(graph_server.sent_messages(mailbox)) == 1


def test_a_reply_lost_on_a_read_is_only_transient(graph_server: GraphServer, client: GraphClient, mailbox: str) -> None:
    message_id = graph_server.deliver(mailbox, new_mime()[0])
    graph_server.drop_connection_next("message.get")

    with pytest.raises(TransientMailError) as dropped:
        client.get(f"/users/{mailbox}/messages/{message_id}")

    assert not isinstance(dropped.value, OutcomeUnknown)
    assert client.get(f"/users/{mailbox}/messages/{message_id}")["id"] == message_id
