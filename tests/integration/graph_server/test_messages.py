"""Reading MIME, setting categories, moving, and JSON batching with per-request results."""

from __future__ import annotations

import pytest

from sync.mail.errors import PermanentMailError
from sync.mail.graph.client import BatchRequest, GraphClient
from sync.mail.graph.errors import GraphThrottled
from tests.graph.server import GraphServer
from tests.integration.graph_server.conftest import new_mime

pytestmark = pytest.mark.integration


def test_value_returns_the_stored_mime_byte_for_byte(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    mime = new_mime("raw")[0].replace(b"\n", b"\r\n") + "Grüße\r\n".encode()
    message_id = graph_server.deliver(mailbox, mime)

    assert client.get_bytes(f"/users/{mailbox}/messages/{message_id}/$value") == mime


def test_get_with_select_returns_the_fields_asked_for(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    mime, internet_id = new_mime("selected")
    message_id = graph_server.deliver(mailbox, mime, categories=["Tracked"])

    message = client.get(f"/users/{mailbox}/messages/{message_id}", {"$select": "internetMessageId,categories"})

    assert message["internetMessageId"] == internet_id
    assert message["categories"] == ["Tracked"]
    assert "subject" not in message


def test_patching_categories_replaces_them_and_changes_the_change_key(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = graph_server.deliver(mailbox, new_mime()[0], categories=["Old"])
    before = client.get(f"/users/{mailbox}/messages/{message_id}")

    updated = client.patch(f"/users/{mailbox}/messages/{message_id}", {"categories": ["Tracked to Dynamics 365"]})

    assert updated["categories"] == ["Tracked to Dynamics 365"]
    assert updated["changeKey"] != before["changeKey"]
    assert graph_server.messages(mailbox)[0].categories == ("Tracked to Dynamics 365",)


def test_a_patch_of_a_property_graph_does_not_let_us_change_is_refused(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = graph_server.deliver(mailbox, new_mime("fixed")[0])

    with pytest.raises(PermanentMailError) as refused:
        client.patch(f"/users/{mailbox}/messages/{message_id}", {"subject": "rewritten"})

    assert refused.value.code == "BadRequest"
    assert graph_server.messages(mailbox)[0].envelope.subject == "fixed"


def test_a_message_that_is_gone_is_a_permanent_item_not_found(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = graph_server.deliver(mailbox, new_mime()[0])
    client.post(f"/users/{mailbox}/messages/{message_id}/move", {"destinationId": "deleteditems"})

    with pytest.raises(PermanentMailError) as gone:
        client.get(f"/users/{mailbox}/messages/{message_id}")

    assert gone.value.code == "ErrorItemNotFound"


def test_a_batch_answers_each_request_and_one_missing_message_does_not_spoil_the_others(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    first, second = (graph_server.deliver(mailbox, new_mime(f"m{n}")[0]) for n in range(2))
    tag = {"categories": ["Tracked"]}
    requests = [
        BatchRequest("PATCH", f"/users/{mailbox}/messages/{first}", tag),
        BatchRequest("PATCH", f"/users/{mailbox}/messages/AAMkADnothere", tag),
        BatchRequest("PATCH", f"/users/{mailbox}/messages/{second}", tag),
    ]

    answers = client.batch(requests)

    assert [answer.status for answer in answers] == [200, 404, 200]
    error = answers[1].error()
    assert isinstance(error, PermanentMailError) and error.code == "ErrorItemNotFound"
    assert answers[0].error() is None and answers[0].body["categories"] == ["Tracked"]
    assert {m.categories for m in graph_server.messages(mailbox)} == {("Tracked",)}
    assert graph_server.calls["batch"] == 1 and graph_server.calls["message.update"] == 3


def test_a_throttled_request_inside_a_batch_is_a_value_carrying_retry_after(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = graph_server.deliver(mailbox, new_mime()[0])
    graph_server.fail_next("message.get", 429, retry_after_s=3)

    answers = client.batch([BatchRequest("GET", f"/users/{mailbox}/messages/{message_id}")] * 2)

    throttled = answers[0].error()
    assert isinstance(throttled, GraphThrottled) and throttled.retry_after_seconds == 3
    assert answers[1].status == 200 and answers[1].body["id"] == message_id


def test_more_than_twenty_requests_go_in_batches_of_twenty(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    ids = [graph_server.deliver(mailbox, new_mime(f"m{n}")[0]) for n in range(25)]

    answers = client.batch([BatchRequest("GET", f"/users/{mailbox}/messages/{i}") for i in ids])

    assert [answer.body["id"] for answer in answers] == ids
    assert graph_server.calls["batch"] == 2 and graph_server.calls["message.get"] == 25
    assert {(call.route, call.mailbox) for call in graph_server.call_log} == {("batch", None), ("message.get", mailbox)}
