"""The Graph test server's pure parts below HTTP: tokens, routing, Prefer, MIME envelopes, $select."""

from __future__ import annotations

import pytest

from tests.graph.api import ApiError
from tests.graph.delta import DEFAULT_PAGE_SIZE, page_size
from tests.graph.links import DeltaToken, decode, encode
from tests.graph.mime import compose, envelope
from tests.graph.routes import match
from tests.graph.state import GraphState
from tests.graph.wire import message_json


def test_a_delta_token_survives_the_round_trip() -> None:
    token = DeltaToken("AAMkAD==", since=3, until=9, offset=4, select=("subject",), epoch=2)
    assert decode(encode(token)) == token


@pytest.mark.parametrize("garbage", ["", "not-base64!", "e30", encode(DeltaToken("f", 0))[:-4]])
def test_a_token_this_server_did_not_issue_is_a_value_error(garbage: str) -> None:
    with pytest.raises(ValueError, match="not a delta token"):
        decode(garbage)


@pytest.mark.parametrize(
    ("prefer", "size"),
    [
        ("odata.maxpagesize=2", 2),
        ('outlook.body-content-type="text", odata.maxpagesize=50', 50),
        ("ODATA.MAXPAGESIZE = 7", 7),
        ("odata.maxpagesize=0", 1),
        ("", DEFAULT_PAGE_SIZE),
    ],
)
def test_the_page_size_comes_from_prefer(prefer: str, size: int) -> None:
    assert page_size({"prefer": prefer}) == size


@pytest.mark.parametrize(
    ("method", "path", "name", "params"),
    [
        ("GET", "/users/a%40x.test/mailFolders/inbox/messages/delta", "messages.delta", {"user": "a@x.test"}),
        ("GET", "/users/a/mailfolders('AAMk=')/messages/delta", "messages.delta", {"folder": "AAMk="}),
        ("GET", "/users/a/mailFolders/delta", "folders.delta", {}),
        ("GET", "/users/a/mailFolders/inbox", "folder.get", {"folder": "inbox"}),
        ("GET", "/users/a/messages/AAMk=/$value", "message.value", {"message": "AAMk="}),
        ("GET", "/users/a/messages/AAMk=", "message.get", {"message": "AAMk="}),
        ("PATCH", "/users/a/messages/AAMk=", "message.update", {}),
        ("POST", "/users/a/messages", "message.create", {}),
        ("POST", "/users/a/messages/AAMk=/move", "message.move", {}),
        ("POST", "/users/a/SENDMAIL", "sendMail", {}),
        ("POST", "/$batch", "batch", {}),
        ("GET", "/users/a/calendarView/delta", "calendarView.delta", {}),
        ("GET", "/users/a/events/AAMk=/instances", "event.instances", {"event": "AAMk="}),
        ("PATCH", "/users/a/calendar/events('AAMk=')", "event.update", {"event": "AAMk="}),
        ("POST", "/users/a/events/AAMk=/cancel", "event.cancel", {}),
        ("GET", "/users/a/contacts/delta", "contacts.delta", {}),
        ("DELETE", "/users/a/contacts/C1", "contact.delete", {"contact": "C1"}),
        ("GET", "/users/a/todo/lists/L1/tasks/delta", "tasks.delta", {"list": "L1"}),
        ("PATCH", "/users/a/todo/lists/L1/tasks/T1", "task.update", {"list": "L1", "task": "T1"}),
        ("PATCH", "/users/a/calendar", "calendar.update", {}),
    ],
)
def test_routes(method: str, path: str, name: str, params: dict[str, str]) -> None:
    found = match(method, path)
    assert found is not None
    route, got = found
    assert route.name == name
    assert params.items() <= got.items()


@pytest.mark.parametrize(("method", "path"), [("PUT", "/users/a/messages/x"), ("GET", "/users/a/people")])
def test_what_is_not_routed_finds_nothing(method: str, path: str) -> None:
    assert match(method, path) is None


def test_the_envelope_decodes_encoded_words_and_keeps_the_message_id_brackets() -> None:
    mime = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.test>\r\nTo: a@example.test, b@example.test\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <x@y>\r\nDate: Sun, 01 Mar 2026 12:00:00 +0100\r\n\r\n"
    )
    found = envelope(mime)
    assert found.subject == "Grüße" and found.internet_message_id == "<x@y>"
    assert found.sender is not None and (found.sender.name, found.sender.address) == ("Jürgen", "j@example.test")
    assert [a.address for a in found.to] == ["a@example.test", "b@example.test"]
    assert found.sent is not None and found.sent.isoformat() == "2026-03-01T12:00:00+01:00"


def test_a_header_block_without_the_usual_fields_still_delivers() -> None:
    found = envelope(b"X-Nothing: here\r\n\r\nbody")
    assert (found.internet_message_id, found.subject, found.sender, found.to, found.sent) == (None, "", None, (), None)


def test_compose_writes_the_json_message_as_mime_with_its_internet_message_id() -> None:
    message = {
        "subject": "Case 7",
        "body": {"contentType": "HTML", "content": "<p>Hi</p>"},
        "toRecipients": [{"emailAddress": {"name": "C", "address": "c@example.test"}}],
        "internetMessageId": "<ours@sync.test>",
        "internetMessageHeaders": [{"name": "X-Tracking", "value": "CRM:0001"}],
    }
    found = envelope(compose("alice@example.test", message))
    assert (found.internet_message_id, found.subject) == ("<ours@sync.test>", "Case 7")
    assert b"X-Tracking: CRM:0001" in compose("alice@example.test", message)


def test_compose_refuses_a_standard_header_in_internet_message_headers() -> None:
    with pytest.raises(ApiError) as refused:
        compose("a@example.test", {"internetMessageHeaders": [{"name": "Message-ID", "value": "<m@x>"}]})
    assert (refused.value.status, refused.value.code) == (400, "InvalidInternetMessageHeader")


def test_select_keeps_id_and_etag_and_refuses_unknown_properties() -> None:
    state = GraphState()
    state.add_mailbox("a@example.test")
    message = state.deliver("a@example.test", b"Subject: s\r\n\r\n")
    assert set(message_json(message, ["subject"])) == {"@odata.etag", "id", "subject"}
    with pytest.raises(ApiError, match="Could not find a property named 'subjet'"):
        message_json(message, ["subjet"])
