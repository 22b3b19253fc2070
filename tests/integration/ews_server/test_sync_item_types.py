"""SyncFolderItems on the Calendar, Contacts and Tasks folders, paged as a sync engine pages: changes made
through exchangelib and in Outlook come back as Create, Update and Delete of the folder's item type."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from exchangelib import Account, CalendarItem, Contact, EWSDateTime, EWSTimeZone, Task
from exchangelib.folders import BaseFolder
from exchangelib.items import SEND_TO_NONE, Item

from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE

pytestmark = pytest.mark.integration


def calendar_item(account: Account, name: str) -> Item:
    start = EWSDateTime(2024, 6, 3, 10, tzinfo=EWSTimeZone("Europe/Berlin"))
    item = CalendarItem(account=account, folder=account.calendar, subject=name, start=start, end=start)
    item.save(send_meeting_invitations=SEND_TO_NONE)
    return item


def contact(account: Account, name: str) -> Item:
    item = Contact(account=account, folder=account.contacts, display_name=name, subject=name)
    item.save()
    return item


def task(account: Account, name: str) -> Item:
    item = Task(account=account, folder=account.tasks, subject=name)
    item.save()
    return item


def outlook_calendar_item(server: EwsServer, name: str) -> str:
    start = datetime.datetime(2024, 6, 4, 9, tzinfo=datetime.UTC)
    return server.create_calendar_item(ALICE, subject=name, start=start, end=start + datetime.timedelta(hours=1))


TYPES: dict[str, tuple[type[Item], Callable[[Account, str], Item], Callable[[EwsServer, str], str]]] = {
    "calendar": (CalendarItem, calendar_item, outlook_calendar_item),
    "contacts": (Contact, contact, lambda server, name: server.create_contact(ALICE, display_name=name, subject=name)),
    "tasks": (Task, task, lambda server, name: server.create_task(ALICE, subject=name)),
}


def sync(folder: BaseFolder) -> list[tuple[str, str, str, str | None]]:
    """(change, item type, item id, subject) of every change since the folder's last sync, two per request."""
    return [
        (kind, type(change).__name__, change.id, getattr(change, "subject", None))
        for kind, change in folder.sync_items(max_changes_returned=2, only_fields=["subject"])
    ]


@pytest.mark.parametrize("folder_name", TYPES)
def test_sync_pages_through_creates_updates_and_deletes(
    alice: Account, ews_server: EwsServer, folder_name: str
) -> None:
    item_class, create, create_in_outlook = TYPES[folder_name]
    kind, folder = item_class.__name__, getattr(alice, folder_name)
    first, second, third = (create(alice, name) for name in ("first", "second", "third"))
    outlook = create_in_outlook(ews_server, "from Outlook")

    assert sync(folder) == [
        ("create", kind, first.id, "first"),
        ("create", kind, second.id, "second"),
        ("create", kind, third.id, "third"),
        ("create", kind, outlook, "from Outlook"),
    ]
    assert ews_server.calls["SyncFolderItems"] == 2
    assert sync(folder) == []

    first.subject = "first, renamed"
    first.save(update_fields=["subject"])
    ews_server.update_item_fields(ALICE, outlook, subject="renamed in Outlook")
    second_id = second.id
    second.delete()
    fourth = create(alice, "fourth")
    assert sync(folder) == [
        ("update", kind, first.id, "first, renamed"),
        ("update", kind, outlook, "renamed in Outlook"),
        ("delete", "ItemId", second_id, None),
        ("create", kind, fourth.id, "fourth"),
    ]
    assert ews_server.calls["SyncFolderItems"] == 5
