"""Extended properties through exchangelib: a custom property (exchangelib's ``ExternId``) registered on every
item type is stored by CreateItem, changed by UpdateItem and returned by GetItem, FindItem and SyncFolderItems."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
from exchangelib import Account, CalendarItem, Contact, EWSDateTime, EWSTimeZone, Message, Task
from exchangelib.errors import ErrorInvalidPropertySet
from exchangelib.extended_properties import ExtendedProperty, ExternId, Flag
from exchangelib.items import Item

from tests.ews.server import EwsServer
from tests.ews.values import ExtendedField
from tests.integration.ews_server.conftest import ALICE, BOB

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("extern_id")]

EXTERN_ID = ExtendedField("String", property_set_id=ExternId.property_set_id, property_name="External ID")
START = EWSDateTime(2024, 6, 3, 10, tzinfo=EWSTimeZone("UTC"))
# folder -> the item type created there, with the fields it needs
KINDS: dict[str, tuple[type[Item], dict[str, object]]] = {
    "calendar": (CalendarItem, {"start": START, "end": START + datetime.timedelta(hours=1)}),
    "contacts": (Contact, {"display_name": "Ada Lovelace"}),
    "tasks": (Task, {}),
    "drafts": (Message, {"to_recipients": [BOB]}),
}


@pytest.fixture
def extern_id() -> Iterator[None]:
    """``extern_id`` on every item type; registration is global to exchangelib (the ACT connector registers it
    too), so only what this fixture added is undone afterwards."""
    added = [c for c, _ in KINDS.values() if "extern_id" not in {f.name for f in c.FIELDS}]
    for item_class in added:
        item_class.register("extern_id", ExternId)
    try:
        yield
    finally:
        for item_class in added:
            item_class.deregister("extern_id")


def create(account: Account, folder_name: str, **fields: object) -> Item:
    item_class, required = KINDS[folder_name]
    item = item_class(account=account, folder=getattr(account, folder_name), subject="CRM record", **required, **fields)
    item.save()
    return item


@pytest.mark.parametrize("folder_name", KINDS)
def test_the_property_round_trips_through_create_update_and_delete(
    alice: Account, ews_server: EwsServer, folder_name: str
) -> None:
    item = create(alice, folder_name, extern_id="crm:4201:abc")
    [stored] = ews_server.items(ALICE, folder_name)
    assert stored.extended_properties == {EXTERN_ID: "crm:4201:abc"}
    [fetched] = alice.fetch([item])
    assert (fetched.subject, fetched.extern_id) == ("CRM record", "crm:4201:abc")
    [found] = getattr(alice, folder_name).all().only("extern_id")
    assert (found.id, found.extern_id) == (item.id, "crm:4201:abc")

    before = item.changekey
    item.extern_id = "crm:4201:def"
    item.save(update_fields=["extern_id"])
    assert item.changekey != before
    [fetched] = alice.fetch([item], only_fields=["extern_id"])
    assert fetched.extern_id == "crm:4201:def"

    item.extern_id = None
    item.save(update_fields=["extern_id"])
    [fetched] = alice.fetch([item], only_fields=["subject", "extern_id"])
    assert (fetched.subject, fetched.extern_id) == ("CRM record", None)
    assert ews_server.items(ALICE, folder_name)[0].extended_properties == {}


@pytest.mark.parametrize("folder_name", KINDS)
def test_sync_returns_the_property_on_create_and_update(alice: Account, folder_name: str) -> None:
    folder = getattr(alice, folder_name)
    tagged, plain = create(alice, folder_name, extern_id="crm:4201:abc"), create(alice, folder_name)

    def sync() -> list[tuple[str, str, str | None]]:
        return [(kind, item.id, item.extern_id) for kind, item in folder.sync_items(only_fields=["extern_id"])]

    assert sync() == [("create", tagged.id, "crm:4201:abc"), ("create", plain.id, None)]
    tagged.extern_id = "crm:4201:def"
    tagged.save(update_fields=["extern_id"])
    assert sync() == [("update", tagged.id, "crm:4201:def")]


def test_the_saved_copy_of_a_sent_message_keeps_the_property(alice: Account, ews_server: EwsServer) -> None:
    Message(account=alice, subject="Quote", body="Attached", to_recipients=[BOB], extern_id="crm:7").send_and_save()
    [copy] = alice.sent.all().only("extern_id")
    assert copy.extern_id == "crm:7"
    assert ews_server.items(BOB, "inbox")[0].extended_properties == {}


def test_a_property_named_by_tag(alice: Account) -> None:
    Message.register("flag", Flag)  # exchangelib's PR_FLAG_STATUS, an Integer named by PropertyTag 0x1090
    try:
        message = create(alice, "drafts", flag=2)
        [fetched] = alice.fetch([message], only_fields=["flag", "extern_id"])
        assert (fetched.flag, fetched.extern_id) == (2, None)
    finally:
        Message.deregister("flag")


class Aliases(ExtendedProperty):  # type: ignore[misc]  # exchangelib is untyped
    property_set_id = ExternId.property_set_id
    property_name = "Aliases"
    property_type = "StringArray"


class Keywords(ExtendedProperty):  # type: ignore[misc]  # exchangelib is untyped
    distinguished_property_set_id = "PublicStrings"
    property_name = "Keywords"
    property_type = "String"


@pytest.mark.parametrize(("property_class", "value"), [(Aliases, ["a", "b"]), (Keywords, "crm")])
def test_properties_the_server_cannot_keep_are_refused_but_can_be_asked_for(
    alice: Account, ews_server: EwsServer, property_class: type[ExtendedProperty], value: object
) -> None:
    Contact.register("unsupported", property_class)
    try:
        with pytest.raises(ErrorInvalidPropertySet, match="This test server keeps extended properties"):
            create(alice, "contacts", unsupported=value)
        assert ews_server.items(ALICE, "contacts") == []
        [fetched] = alice.fetch([create(alice, "contacts", extern_id="crm:1")])  # asks for every registered field
        assert (fetched.extern_id, fetched.unsupported) == ("crm:1", None)
    finally:
        Contact.deregister("unsupported")
