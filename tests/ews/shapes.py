"""XML views of folders and items, cut to the shape a request asks for.

EWS returns only what the FolderShape/ItemShape names: a BaseShape (IdOnly, Default, AllProperties) plus
AdditionalProperties given as FieldURIs. Properties come out in schema order, and properties an object
does not have are left out, as Exchange does. Messages are written here, from their MIME; calendar items,
contacts and tasks by the property tables of ``item_schema``, built from the pieces here.
"""

from __future__ import annotations

import base64
import datetime
import xml.etree.ElementTree as ET
from collections.abc import Callable

from tests.ews.soap import child, element, findall, text_of
from tests.ews.state import Folder, Item, Mailbox, addresses

FOLDER_TAGS = {"IPF.Appointment": "t:CalendarFolder", "IPF.Contact": "t:ContactsFolder", "IPF.Task": "t:TasksFolder"}
WITH_UNREAD_COUNT = {"t:Folder", "t:TasksFolder"}
DEFAULT_FOLDER_FIELDS = {"folder:DisplayName", "folder:TotalCount", "folder:ChildFolderCount", "folder:UnreadCount"}
RIGHTS = ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete", "Modify", "Read", "ViewPrivateItems")


def requested_fields(shape: ET.Element | None) -> tuple[str, set[str]]:
    """(BaseShape, FieldURIs of AdditionalProperties) of a FolderShape or ItemShape element.

    An IndexedFieldURI (one entry of an indexed property such as a contact's EmailAddress1) adds both the
    property ("contacts:EmailAddress") and the entry ("contacts:EmailAddress/EmailAddress1")."""
    if shape is None:
        return "Default", set()
    fields = {node.get("FieldURI", "") for node in findall(shape, "t:AdditionalProperties/t:FieldURI")}
    for node in findall(shape, "t:AdditionalProperties/t:IndexedFieldURI"):
        uri = ":".join(node.get("FieldURI", "").split(":")[:2])  # "contacts:PhysicalAddress:City" names the entry
        fields |= {uri, f"{uri}/{node.get('FieldIndex', '')}"}
    return text_of(shape, "t:BaseShape") or "Default", fields


def timestamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def folder_id(folder: Folder, tag: str = "t:FolderId") -> ET.Element:
    return element(tag, Id=folder.folder_id, ChangeKey=folder.change_key)


def folder_element(
    mailbox: Mailbox, folder: Folder, shape: str, fields: set[str], extended: list[ET.Element] | None = None
) -> ET.Element:
    """A folder as the shape asks; ``extended``: its requested extended properties, in their schema place."""
    tag = FOLDER_TAGS.get(folder.folder_class or "", "t:Folder")
    if shape == "AllProperties":
        fields = fields | DEFAULT_FOLDER_FIELDS | {"folder:ParentFolderId", "folder:FolderClass"}
    elif shape == "Default":
        fields = fields | DEFAULT_FOLDER_FIELDS
    node = element(tag)
    node.append(folder_id(folder))
    total, unread, children = mailbox.counts(folder.folder_id)
    if "folder:ParentFolderId" in fields and folder.parent_id is not None:
        parent = mailbox.folder(folder.parent_id)
        node.append(folder_id(parent, "t:ParentFolderId"))
    if "folder:FolderClass" in fields and folder.folder_class:
        child(node, "t:FolderClass", folder.folder_class)
    if "folder:DisplayName" in fields:
        child(node, "t:DisplayName", folder.name)
    if "folder:TotalCount" in fields:
        child(node, "t:TotalCount", str(total))
    if "folder:ChildFolderCount" in fields:
        child(node, "t:ChildFolderCount", str(children))
    node.extend(extended or [])
    if "folder:EffectiveRights" in fields:
        rights = child(node, "t:EffectiveRights")
        for right in RIGHTS:
            child(rights, f"t:{right}", "true")
    if "folder:DistinguishedFolderId" in fields and folder.distinguished:
        child(node, "t:DistinguishedFolderId", folder.distinguished)
    if "folder:UnreadCount" in fields and tag in WITH_UNREAD_COUNT:
        child(node, "t:UnreadCount", str(unread))
    return node


def item_id(item: Item) -> ET.Element:
    return element("t:ItemId", Id=item.item_id, ChangeKey=item.change_key)


def mailbox_element(name: str | None, address: str, mailbox_type: str = "OneOff") -> ET.Element:
    """A ``t:Mailbox``; "OneOff" is an address the server only knows from the item, "Mailbox" one of its own."""
    node = element("t:Mailbox")
    if name:
        child(node, "t:Name", name)
    child(node, "t:EmailAddress", address)
    child(node, "t:RoutingType", "SMTP")
    child(node, "t:MailboxType", mailbox_type)
    return node


def _addresses(tag: str, *headers: str, single: bool = False) -> Callable[[Item, Mailbox], ET.Element | None]:
    def build(item: Item, _: Mailbox) -> ET.Element | None:
        found = addresses(item.mime, *headers)[: 1 if single else None]
        if not found:
            return None
        node = element(tag)
        node.extend(mailbox_element(name, address) for name, address in found)
        return node

    return build


def text_property(tag: str, value: Callable[[Item], object]) -> Callable[[Item, Mailbox], ET.Element | None]:
    """A property written as the text of one element: a date-time in UTC, a boolean as xs:boolean."""

    def build(item: Item, _: Mailbox) -> ET.Element | None:
        found = value(item)
        if found is None:
            return None
        if isinstance(found, datetime.datetime):
            found = timestamp(found)
        elif isinstance(found, bool):
            found = str(found).lower()
        return element(tag, str(found))

    return build


def categories_property(item: Item, _: Mailbox) -> ET.Element | None:
    if not item.categories:
        return None
    node = element("t:Categories")
    for category in item.categories:
        child(node, "t:String", category)
    return node


def parent_property(item: Item, mailbox: Mailbox) -> ET.Element:
    return folder_id(mailbox.folder(item.folder_id), "t:ParentFolderId")


MESSAGE_PROPERTIES: list[tuple[str, Callable[[Item, Mailbox], ET.Element | None]]] = [  # in schema order
    (
        "item:MimeContent",
        lambda i, _: element("t:MimeContent", base64.b64encode(i.mime).decode(), CharacterSet="UTF-8"),
    ),
    ("item:ItemId", lambda i, _: item_id(i)),
    ("item:ParentFolderId", parent_property),
    ("item:ItemClass", text_property("t:ItemClass", lambda i: i.item_class)),
    ("item:Subject", text_property("t:Subject", lambda i: i.subject)),
    ("item:DateTimeReceived", text_property("t:DateTimeReceived", lambda i: i.received)),
    ("item:Size", text_property("t:Size", lambda i: i.size)),
    ("item:Categories", categories_property),
    ("item:DateTimeSent", text_property("t:DateTimeSent", lambda i: i.sent)),
    ("message:Sender", _addresses("t:Sender", "Sender", "From", single=True)),
    ("message:ToRecipients", _addresses("t:ToRecipients", "To")),
    ("message:CcRecipients", _addresses("t:CcRecipients", "Cc")),
    ("message:From", _addresses("t:From", "From", single=True)),
    ("message:InternetMessageId", text_property("t:InternetMessageId", lambda i: i.message_id)),
    ("message:IsRead", text_property("t:IsRead", lambda i: i.is_read)),
]
ALL_MESSAGE_FIELDS = {uri for uri, _ in MESSAGE_PROPERTIES} - {"item:MimeContent"}


def message_element(
    mailbox: Mailbox, item: Item, shape: str, fields: set[str], extended: list[ET.Element]
) -> ET.Element:
    """IdOnly gives the ItemId plus the AdditionalProperties; the other shapes give every known property. The
    ``extended`` property elements go after the properties of every item, before those of a message (types.xsd)."""
    wanted = fields | {"item:ItemId"} | (set() if shape == "IdOnly" else ALL_MESSAGE_FIELDS)
    node = element(f"t:{item.item_type}")
    for uri, build in MESSAGE_PROPERTIES:
        if uri == "message:Sender":
            node.extend(extended)
        if uri in wanted and (built := build(item, mailbox)) is not None:
            node.append(built)
    return node
