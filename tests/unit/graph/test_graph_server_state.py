"""The Graph test server's in-memory mailboxes and change logs (pure: no HTTP)."""

from __future__ import annotations

import pytest

from tests.graph.api import ApiError
from tests.graph.state import Change, GraphState, collapse

BOX = "Alice@Example.test"
MIME = b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: hi\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n"


@pytest.fixture
def state() -> GraphState:
    graph = GraphState()
    graph.add_mailbox(BOX)
    return graph


def test_collapse_keeps_the_last_change_per_item_in_the_order_of_those_last_changes() -> None:
    log = [Change(1, "a", False), Change(2, "b", False), Change(3, "a", True), Change(4, "c", False)]
    assert collapse(log, 0, 4) == [Change(2, "b", False), Change(3, "a", True), Change(4, "c", False)]


def test_collapse_takes_only_the_window_since_until() -> None:
    log = [Change(1, "a", False), Change(2, "b", False), Change(3, "c", False)]
    assert collapse(log, 1, 2) == [Change(2, "b", False)]


def test_addresses_match_case_insensitively_and_unknown_ones_are_invalid_users(state: GraphState) -> None:
    assert state.folder("alice@example.test", "Inbox").name == "Inbox"
    with pytest.raises(ApiError) as unknown:
        state.folder("nobody@example.test", "inbox")
    assert (unknown.value.status, unknown.value.code) == (404, "ErrorInvalidUser")


def test_delivery_reads_the_envelope_from_the_mime(state: GraphState) -> None:
    message = state.deliver(BOX, MIME)
    assert message.internet_message_id == "<m1@x>"
    assert message.envelope.subject == "hi"
    assert message.change_key


def test_a_move_gives_a_new_id_and_logs_a_removal_in_the_source(state: GraphState) -> None:
    original = state.deliver(BOX, MIME)
    inbox = state.folder(BOX, "inbox").id
    since, _ = state.position(BOX)

    moved = state.move(BOX, original.id, "deleteditems")

    assert moved.id != original.id and moved.folder_id == state.folder(BOX, "deleteditems").id
    [(change, message)] = state.message_changes(BOX, inbox, since, state.position(BOX)[0])
    assert (change.item_id, change.removed, message) == (original.id, True, None)


def test_delete_moves_to_deleted_items_and_from_there_removes_for_good(state: GraphState) -> None:
    state.delete(BOX, state.deliver(BOX, MIME).id)
    [in_trash] = state.messages(BOX, "deleteditems")
    assert state.messages(BOX, "inbox") == []

    state.delete(BOX, in_trash.id)

    assert state.messages(BOX, "deleteditems") == []


def test_an_update_is_a_new_change_with_a_new_change_key(state: GraphState) -> None:
    message = state.deliver(BOX, MIME)
    since, _ = state.position(BOX)

    updated = state.update(BOX, message.id, categories=["Tracked"], is_read=True)

    assert updated.categories == ("Tracked",) and updated.is_read and updated.change_key != message.change_key
    changes = state.message_changes(BOX, message.folder_id, since, state.position(BOX)[0])
    assert [(c.item_id, m) for c, m in changes] == [(message.id, updated)]


def test_sending_mime_without_a_message_id_gets_one_like_exchange_gives(state: GraphState) -> None:
    state.send(BOX, b"To: c@example.test\r\nSubject: s\r\n\r\nx\r\n")
    [sent] = state.sent(BOX)
    [copy] = state.messages(BOX, "sentitems")
    assert sent.mime.startswith(b"Message-ID: <") and copy.internet_message_id is not None


def test_only_a_draft_can_be_sent(state: GraphState) -> None:
    received = state.deliver(BOX, MIME)
    with pytest.raises(ApiError) as refused:
        state.send_draft(BOX, received.id)
    assert refused.value.code == "ErrorInvalidOperation"


def test_expiring_links_moves_the_epoch_on(state: GraphState) -> None:
    _, before = state.position(BOX)
    state.expire_delta_links(BOX)
    assert state.position(BOX)[1] == before + 1


def test_folder_changes_list_the_well_known_folders_below_the_root_then_only_changes(state: GraphState) -> None:
    assert [f.name for f in state.folder_changes(BOX, 0, state.position(BOX)[0])] == [
        "Inbox",
        "Drafts",
        "Sent Items",
        "Deleted Items",
    ]
    since, _ = state.position(BOX)
    state.rename_folder(BOX, "drafts", "Entwürfe")
    assert [f.name for f in state.folder_changes(BOX, since, state.position(BOX)[0])] == ["Entwürfe"]
