"""Item operations, driven through exchangelib: SyncFolderItems, GetItem, FindItem, UpdateItem, MoveItem,
DeleteItem (CreateItem has its own module)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from exchangelib import Account, Folder, Message
from exchangelib.errors import (
    ErrorInvalidSyncStateData,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
    ErrorMimeContentConversionFailed,
)
from exchangelib.fields import FieldPath
from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems

from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE, mime

pytestmark = pytest.mark.integration

SYNC_FIELDS = ["subject", "datetime_received", "size", "categories", "message_id", "item_class"]


def sync_page(account: Account, state: str | None, page_size: int = 2) -> tuple[list[tuple[str, Any]], str, bool]:
    """One SyncFolderItems request on the inbox, as a sync engine pages: (changes, new state, last page?)."""
    service = SyncFolderItems(account=account)
    fields = [FieldPath(field=Message.get_field_by_fieldname(name)) for name in SYNC_FIELDS]
    changes = list(
        service.call(
            folder=account.inbox,
            shape=ID_ONLY,
            additional_fields=fields,
            sync_state=state,
            ignore=None,
            max_changes_returned=page_size,
            sync_scope=None,
        )
    )
    return changes, service.sync_state, service.includes_last_item_in_range


def test_sync_pages_through_five_items_two_at_a_time(alice: Account, ews_server: EwsServer) -> None:
    received = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
    ids = [ews_server.deliver(ALICE, mime(f"m{n}"), received=received, categories=["crm"]) for n in range(5)]
    pages, state, last = [], None, False
    while not last:
        changes, state, last = sync_page(alice, state)
        pages.append(changes)
    assert [len(page) for page in pages] == [2, 2, 1]
    changes = [change for page in pages for change in page]
    assert [kind for kind, _ in changes] == ["create"] * 5
    assert [item.id for _, item in changes] == ids
    first = changes[0][1]
    assert (first.subject, first.message_id, first.categories) == ("Message m0", "<m0@example.test>", ["crm"])
    assert (first.datetime_received, first.item_class) == (received, "IPM.Note")
    assert first.size == len(mime("m0"))
    assert sync_page(alice, state) == ([], state, True)


def test_sync_resumes_from_a_saved_state_with_every_change_kind(alice: Account, ews_server: EwsServer) -> None:
    read_me, tag_me, delete_me = (ews_server.deliver(ALICE, mime(f"m{n}")) for n in range(3))
    _, state, _ = sync_page(alice, None, page_size=10)

    new = ews_server.deliver(ALICE, mime("new"))
    gone = ews_server.deliver(ALICE, mime("gone"))  # created and deleted since the state: never reported
    ews_server.delete_item(ALICE, gone)
    store = ews_server.mailbox(ALICE)
    store.update_item(read_me, is_read=True)
    store.update_item(tag_me, categories=["Customer"])
    ews_server.delete_item(ALICE, delete_me)

    changes, _, last = sync_page(alice, state, page_size=10)
    summary = [(kind, getattr(change, "id", None)) for kind, change in changes]
    assert summary == [
        ("create", new),
        ("read_flag_change", None),
        ("update", tag_me),
        ("delete", delete_me),
    ]
    item_id, is_read = changes[1][1]
    assert (item_id.id, is_read, last) == (read_me, True, True)
    assert changes[2][1].categories == ["Customer"]


def test_high_level_sync_items_keeps_the_state_on_the_folder(alice: Account, ews_server: EwsServer) -> None:
    for n in range(3):
        ews_server.deliver(ALICE, mime(f"m{n}"))
    assert len(list(alice.inbox.sync_items(max_changes_returned=2, only_fields=["subject"]))) == 3
    assert ews_server.calls["SyncFolderItems"] == 2
    ews_server.deliver(ALICE, mime("later"))
    [(kind, item)] = list(alice.inbox.sync_items(only_fields=["subject"]))
    assert (kind, item.subject) == ("create", "Message later")


def test_a_garbage_sync_state_or_one_of_another_folder_is_refused(alice: Account) -> None:
    with pytest.raises(ErrorInvalidSyncStateData):
        sync_page(alice, "definitely-not-a-state")
    list(alice.sent.sync_items())
    with pytest.raises(ErrorInvalidSyncStateData):
        sync_page(alice, alice.sent.item_sync_state)


def test_get_item_returns_mime_and_properties_per_id(alice: Account, ews_server: EwsServer) -> None:
    ids = [ews_server.deliver(ALICE, mime(f"m{n}"), categories=[f"c{n}"]) for n in range(2)]
    ews_server.delete_item(ALICE, ids[1])
    fields = ["mime_content", "categories", "message_id", "datetime_received", "size", "subject", "author"]
    found = list(alice.fetch([(ids[0], None), (ids[1], None)], only_fields=fields))
    assert found[0].mime_content == mime("m0")
    assert (found[0].categories, found[0].message_id, found[0].size) == (["c0"], "<m0@example.test>", len(mime("m0")))
    assert found[0].author.email_address == "bob@example.test" and found[0].author.name == "Sender"
    assert isinstance(found[1], ErrorItemNotFound)
    assert ews_server.calls["GetItem"] == 1


def test_an_injected_item_error_hits_the_first_item_of_the_batch(alice: Account, ews_server: EwsServer) -> None:
    ids = [ews_server.deliver(ALICE, mime(f"m{n}")) for n in range(2)]
    ews_server.fail_next("GetItem", item_error="ErrorMimeContentConversionFailed")
    first, second = alice.fetch([(i, None) for i in ids], only_fields=["mime_content"])
    assert isinstance(first, ErrorMimeContentConversionFailed)
    assert second.mime_content == mime("m1")


def test_find_item_by_internet_message_id(alice: Account, ews_server: EwsServer) -> None:
    for n in range(3):
        ews_server.deliver(ALICE, mime(f"s{n}"), folder="sentitems")
    found = list(alice.sent.filter(message_id="<s1@example.test>"))
    assert [item.message_id for item in found] == ["<s1@example.test>"]
    assert list(alice.sent.filter(message_id="<nope@example.test>")) == []


def test_find_item_pages_newest_first(alice: Account, ews_server: EwsServer) -> None:
    start = datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)
    for n in range(5):
        ews_server.deliver(ALICE, mime(f"m{n}"), received=start + datetime.timedelta(hours=n))
    query = alice.inbox.all().only("subject")
    query.page_size = 2
    assert [item.subject for item in query] == [f"Message m{n}" for n in reversed(range(5))]
    assert ews_server.calls["FindItem"] == 3


def test_update_item_sets_categories_and_read_flag_with_new_change_keys(alice: Account, ews_server: EwsServer) -> None:
    item_id = ews_server.deliver(ALICE, mime("m"))
    [item] = alice.fetch([(item_id, None)], only_fields=["categories", "is_read"])
    before = item.changekey
    item.categories = ["Customer", "Follow-up"]
    item.save(update_fields=["categories"])
    item.is_read = True
    item.save(update_fields=["is_read"])
    [stored] = ews_server.items(ALICE, "inbox")
    assert (stored.categories, stored.is_read) == (("Customer", "Follow-up"), True)
    assert item.id == item_id and item.changekey == stored.change_key != before
    item.categories = None
    item.save(update_fields=["categories"])
    assert ews_server.items(ALICE, "inbox")[0].categories == ()


def test_a_stale_change_key_with_never_overwrite_is_a_conflict(alice: Account, ews_server: EwsServer) -> None:
    item_id = ews_server.deliver(ALICE, mime("m"))
    [item] = alice.fetch([(item_id, None)], only_fields=["is_read"])
    ews_server.mailbox(ALICE).update_item(item_id, categories=["changed elsewhere"])
    item.is_read = True
    with pytest.raises(ErrorIrresolvableConflict):
        item.save(update_fields=["is_read"], conflict_resolution="NeverOverwrite")
    item.save(update_fields=["is_read"])  # AutoResolve
    assert ews_server.items(ALICE, "inbox")[0].is_read


def test_move_item_gives_new_ids(alice: Account, ews_server: EwsServer) -> None:
    ids = [ews_server.deliver(ALICE, mime(f"m{n}")) for n in range(2)]
    archive = Folder(parent=alice.inbox, name="Archive")
    archive.save()
    moved = alice.bulk_move([(i, None) for i in ids], archive)
    assert len(moved) == 2 and not {new for new, _ in moved} & set(ids)
    assert ews_server.items(ALICE, "inbox") == []
    assert {i.item_id for i in ews_server.items(ALICE, archive.id)} == {new for new, _ in moved}


def test_delete_item_hard_and_to_the_trash(alice: Account, ews_server: EwsServer) -> None:
    ids = [ews_server.deliver(ALICE, mime(f"m{n}")) for n in range(2)]
    first, second = alice.fetch([(i, None) for i in ids], only_fields=["subject"])
    first.delete()
    second.move_to_trash()
    assert ews_server.items(ALICE, "inbox") == []
    assert [i.subject for i in ews_server.items(ALICE, "deleteditems")] == ["Message m1"]
    assert ews_server.calls["DeleteItem"] == 2


def test_mime_given_to_the_server_is_returned_byte_for_byte(alice: Account, ews_server: EwsServer) -> None:
    raw = mime("exact") + base64.b64encode(bytes(range(256))) + b"\r\n"
    item_id = ews_server.deliver(ALICE, raw)
    [item] = alice.fetch([(item_id, None)], only_fields=["mime_content"])
    assert item.mime_content == raw
