"""Folder operations, driven through exchangelib: GetFolder, FindFolder, CreateFolder, SyncFolderHierarchy."""

from __future__ import annotations

import pytest
from exchangelib import Account, Folder
from exchangelib.errors import ErrorFolderExists, ErrorFolderNotFound, ErrorInvalidSyncStateData
from exchangelib.folders import FolderCollection, Inbox, SentItems
from exchangelib.items import ID_ONLY
from exchangelib.properties import DistinguishedFolderId, Mailbox
from exchangelib.services import GetFolder

from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE, mime

pytestmark = pytest.mark.integration


def test_distinguished_folders_come_with_counts(alice: Account, ews_server: EwsServer) -> None:
    ews_server.deliver(ALICE, mime("a"))
    ews_server.deliver(ALICE, mime("b"))
    alice.inbox.refresh()
    assert isinstance(alice.inbox, Inbox) and alice.inbox.name == "Inbox"
    assert (alice.inbox.total_count, alice.inbox.unread_count) == (2, 2)
    assert alice.inbox.id == ews_server.folder_id(ALICE, "inbox")
    assert isinstance(alice.sent, SentItems) and alice.sent.total_count == 0
    assert ews_server.calls.log[0].operation == "GetFolder"
    assert ews_server.calls.log[0].anchor_mailbox == ALICE


def test_get_folder_answers_each_id_and_reports_unknown_ones_per_folder(alice: Account, ews_server: EwsServer) -> None:
    projects = ews_server.create_folder(ALICE, "inbox", "Projects")
    mailbox = Mailbox(email_address=ALICE)
    wanted = [
        Inbox(root=alice.root, _distinguished_id=DistinguishedFolderId(id="inbox", mailbox=mailbox)),
        Folder(root=alice.root, _distinguished_id=DistinguishedFolderId(id="archiveinbox", mailbox=mailbox)),
        Folder(root=alice.root, id=projects),
        Folder(root=alice.root, id="bm8tc3VjaC1mb2xkZXI="),
    ]
    found = list(GetFolder(account=alice).call(folders=wanted, additional_fields=[], shape=ID_ONLY))
    assert found[0].id == ews_server.folder_id(ALICE, "inbox")
    assert isinstance(found[1], ErrorFolderNotFound)
    assert found[2].id == projects
    assert isinstance(found[3], ErrorFolderNotFound)


def test_walking_the_tree_resolves_well_known_folders_and_finds_user_folders(
    alice: Account, ews_server: EwsServer
) -> None:
    projects = ews_server.create_folder(ALICE, "inbox", "Projects")
    ews_server.create_folder(ALICE, projects, "2024")
    ews_server.create_folder(ALICE, "msgfolderroot", "Archive 2023")
    names = {f.name for f in alice.root.walk()}
    assert {"Inbox", "Sent Items", "Deleted Items", "Projects", "2024", "Archive 2023"} <= names
    assert [f.name for f in alice.inbox.children] == ["Projects"]
    assert [f.name for f in alice.inbox.walk()] == ["Projects", "2024"]
    assert ews_server.calls["FindFolder"] == 1  # exchangelib caches the tree it found
    assert alice.calendar.folder_class == "IPF.Appointment"


def test_shallow_and_deep_find_folder_in_pages(alice: Account, ews_server: EwsServer) -> None:
    projects = ews_server.create_folder(ALICE, "inbox", "Projects")
    ews_server.create_folder(ALICE, projects, "2024")
    ews_server.create_folder(ALICE, "inbox", "Customers")
    inbox = FolderCollection(account=alice, folders=[alice.inbox])
    ews_server.reset_calls()
    shallow = [f.name for f in inbox.find_folders(depth="Shallow")]
    deep = [f.name for f in inbox.find_folders(depth="Deep", page_size=2)]
    assert (shallow, deep) == (["Projects", "Customers"], ["Projects", "2024", "Customers"])
    assert ews_server.calls["FindFolder"] == 3  # one page, then two pages of at most two


def test_create_folder_stores_it_under_its_parent(alice: Account, ews_server: EwsServer) -> None:
    folder = Folder(parent=alice.inbox, name="Customers")
    folder.save()
    assert folder.id == ews_server.folder_id(ALICE, folder.id)
    assert ews_server.mailbox(ALICE).folder(folder.id).parent_id == alice.inbox.id
    with pytest.raises(ErrorFolderExists):
        Folder(parent=alice.inbox, name="customers").save()


def test_sync_folder_hierarchy_reports_creates_renames_and_moves_out(alice: Account, ews_server: EwsServer) -> None:
    projects = ews_server.create_folder(ALICE, "inbox", "Projects")
    initial = list(alice.inbox.sync_hierarchy())
    assert [(kind, f.name) for kind, f in initial] == [("create", "Projects")]
    state = alice.inbox.folder_sync_state
    assert list(alice.inbox.sync_hierarchy(sync_state=state)) == []

    customers = ews_server.create_folder(ALICE, "inbox", "Customers")
    ews_server.rename_folder(ALICE, projects, "Projects 2024")
    ews_server.move_folder(ALICE, customers, "msgfolderroot")
    old = ews_server.create_folder(ALICE, "msgfolderroot", "Old")
    ews_server.move_folder(ALICE, old, "inbox")
    changes = list(alice.inbox.sync_hierarchy(sync_state=state))
    assert [(kind, getattr(f, "name", None)) for kind, f in changes] == [
        ("update", "Projects 2024"),
        ("create", "Old"),
    ]  # Customers was created and moved out again since the state: nothing to report
    assert all(f.parent_folder_id.id == alice.inbox.id for _, f in changes)

    state = alice.inbox.folder_sync_state
    ews_server.move_folder(ALICE, old, "msgfolderroot")
    [(kind, gone)] = list(alice.inbox.sync_hierarchy(sync_state=state))
    assert (kind, gone.id) == ("delete", old)


def test_sync_folder_hierarchy_from_the_top_of_the_store(alice: Account) -> None:
    names = {f.name for kind, f in alice.msg_folder_root.sync_hierarchy() if kind == "create"}
    assert {"Inbox", "Sent Items", "Calendar", "Contacts", "Tasks"} <= names


def test_a_garbage_hierarchy_sync_state_is_refused(alice: Account) -> None:
    with pytest.raises(ErrorInvalidSyncStateData):
        list(alice.inbox.sync_hierarchy(sync_state="bm90IGEgc3RhdGU="))
