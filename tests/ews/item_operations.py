"""Item operations: SyncFolderItems, GetItem, FindItem, CreateItem, UpdateItem, MoveItem and DeleteItem.

Messages are MIME with a few flags; calendar items, contacts and tasks are property bags described by their
type's table (``item_schema`` and ``calendar_shapes``, ``contact_shapes``, ``task_shapes``). Any of them can
carry extended properties (``extended_properties``). Other item types (distribution lists, posts, meeting
requests) get an error that names them. Meeting messages the operations send are in ``meetings``.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from tests.ews import calendar_shapes, contact_shapes, extended_properties, meetings, task_shapes
from tests.ews.calendar_view import calendar_view
from tests.ews.errors import StateError
from tests.ews.item_schema import Schema
from tests.ews.operations import Context, Handler, paged
from tests.ews.shapes import item_id, message_element, requested_fields
from tests.ews.soap import child, element, find, findall, local_name, text_of
from tests.ews.state import READ_FLAG, Item, addresses, parse_headers
from tests.ews.values import ExtendedField

# the item types besides messages, by element name
SCHEMAS: dict[str, Schema] = {s.kind: s for s in (calendar_shapes.SCHEMA, contact_shapes.SCHEMA, task_shapes.SCHEMA)}

# FieldURIs a Restriction may compare, and the item value each is compared with
SEARCHABLE: dict[str, Callable[[Item], str | None]] = {
    "message:InternetMessageId": lambda i: i.message_id,
    "item:Subject": lambda i: i.subject,
    "item:ItemClass": lambda i: i.item_class,
}


def _items(*nodes: ET.Element) -> ET.Element:
    container = element("m:Items")
    container.extend(nodes)
    return container


@dataclass(frozen=True)
class _Shape:
    """What an ItemShape asks for: a BaseShape, FieldURIs and extended properties."""

    base: str
    fields: set[str]
    extended: set[ExtendedField]


def _shape(body: ET.Element) -> _Shape:
    shape = find(body, "m:ItemShape")
    return _Shape(*requested_fields(shape), extended_properties.requested(shape))


def _render(ctx: Context, item: Item, shape: _Shape) -> ET.Element:
    """A message from its MIME and flags, any other item from its type's table."""
    schema = SCHEMAS.get(item.item_type)
    extended = extended_properties.elements(item.extended_properties, shape.extended)
    if schema is None:
        return message_element(ctx.mailbox, item, shape.base, shape.fields, extended)
    return schema.element(item, ctx.mailbox, shape.base, shape.fields, extended)


def _id_only(item: Item) -> ET.Element:
    node = element(f"t:{item.item_type}")
    node.append(item_id(item))
    return node


def sync_folder_items(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """At most MaxChangesReturned changes since SyncState; IncludesLastItemInRange says whether more wait."""
    shape = _shape(body)
    try:
        folder = ctx.first_folder(find(body, "m:SyncFolderId"))
        limit = int(text_of(body, "m:MaxChangesReturned") or "100")
        result = ctx.mailbox.item_changes(folder.folder_id, text_of(body, "m:SyncState"), limit)
    except StateError as problem:
        # exchangelib reads SyncState and IncludesLastItemInRange before it looks at the ResponseClass
        return [ctx.fail(problem, element("m:SyncState"), element("m:IncludesLastItemInRange", "true"))]
    changes = element("m:Changes")
    for kind, changed in result.changes:
        change = child(changes, f"t:{kind}")
        if not isinstance(changed, Item):
            change.append(element("t:ItemId", Id=str(changed)))
        elif kind == READ_FLAG:
            change.append(item_id(changed))
            child(change, "t:IsRead", str(changed.is_read).lower())
        else:
            change.append(_render(ctx, changed, shape))
    last = str(result.includes_last).lower()
    return [ctx.ok(element("m:SyncState", result.sync_state), element("m:IncludesLastItemInRange", last), changes)]


def get_item(ctx: Context, body: ET.Element) -> list[ET.Element]:
    shape = _shape(body)
    messages = []
    for ref in findall(body, "m:ItemIds/t:ItemId"):
        try:
            item = ctx.item(ref)
        except StateError as problem:
            messages.append(ctx.fail(problem, _items()))
            continue
        messages.append(ctx.ok(_items(_render(ctx, item, shape))))
    return messages


def _matches(condition: ET.Element, item: Item) -> bool:
    """Evaluate the Restriction subset clients use for look-ups: (Not)IsEqualTo combined by And/Or/Not."""
    name = local_name(condition)
    if name in {"And", "Or"}:
        results = (_matches(part, item) for part in condition)
        return all(results) if name == "And" else any(results)
    if name == "Not":
        return not _matches(condition[0], item)
    if name in {"IsEqualTo", "IsNotEqualTo"}:
        uri = condition[0].get("FieldURI", "")
        constant = find(condition, "t:FieldURIOrConstant/t:Constant")
        if uri not in SEARCHABLE or constant is None:
            raise StateError("ErrorUnsupportedPathForQuery", f"This test server cannot search on {uri!r}.")
        value = SEARCHABLE[uri](item)
        equal = value is not None and value.casefold() == constant.get("Value", "").casefold()
        return equal if name == "IsEqualTo" else not equal
    raise StateError("ErrorUnsupportedQueryFilter", f"This test server cannot evaluate a {name} restriction.")


def find_item(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """Items of each folder (newest first) that match the Restriction, paged by an IndexedPageItemView; or,
    with a CalendarView, the appointments in its window (see ``calendar_view``)."""
    shape = _shape(body)
    restriction = find(body, "m:Restriction")
    window = find(body, "m:CalendarView")
    messages = []
    for ref in findall(body, "m:ParentFolderIds/*"):
        try:
            items = ctx.mailbox.folder_items(ctx.folder(ref).folder_id)
            if window is not None:
                if restriction is not None:
                    raise StateError("ErrorInvalidRestriction", "Restrictions are not supported with a CalendarView.")
                root, page = calendar_view(window, items)
            else:
                found = [i for i in items if restriction is None or all(_matches(c, i) for c in restriction)]
                root, page = paged(find(body, "m:IndexedPageItemView"), found)
        except StateError as problem:
            messages.append(ctx.fail(problem))
            continue
        child(root, "t:Items").extend(_render(ctx, item, shape) for item in page)
        messages.append(ctx.ok(root))
    return messages


def _mailboxes(spec: ET.Element, *tags: str) -> list[str]:
    return [node.text or "" for tag in tags for node in findall(spec, f"t:{tag}/t:Mailbox/t:EmailAddress")]


def _mime_and_recipients(ctx: Context, spec: ET.Element) -> tuple[bytes, list[str]]:
    """The message as MIME, given as t:MimeContent or built from its fields, and all its recipients."""
    if local_name(spec) != "Message":
        raise StateError("ErrorInvalidOperation", f"This test server cannot create a {local_name(spec)}.")
    encoded = text_of(spec, "t:MimeContent")
    if encoded:
        try:
            mime = base64.b64decode(encoded, validate=True)
        except binascii.Error as e:
            raise StateError("ErrorMimeContentConversionFailed", f"MimeContent is not base64: {e}") from e
        recipients = [address for _, address in addresses(mime, "To", "Cc", "Bcc")]
    else:
        message = EmailMessage(policy=SMTP)
        message["From"] = (_mailboxes(spec, "From") or [ctx.mailbox.address])[0]
        for header, tag in (("To", "ToRecipients"), ("Cc", "CcRecipients")):
            if listed := _mailboxes(spec, tag):
                message[header] = ", ".join(listed)
        message["Subject"] = text_of(spec, "t:Subject") or ""
        message["Date"] = formatdate(localtime=False)
        body = find(spec, "t:Body")
        subtype = "html" if body is not None and body.get("BodyType") == "HTML" else "plain"
        message.set_content("" if body is None else body.text or "", subtype=subtype)
        mime = message.as_bytes()
        recipients = _mailboxes(spec, "ToRecipients", "CcRecipients", "BccRecipients")
    if parse_headers(mime)["Message-ID"] is None:  # Exchange gives every message it sends one
        domain = ctx.mailbox.address.rpartition("@")[2]
        mime = f"Message-ID: {make_msgid(domain=domain)}\r\n".encode() + mime
    return mime, recipients


def create_item(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """For a message, SaveOnly stores it; SendOnly and SendAndSaveCopy send it (delivering to mailboxes of
    this server) and answer with an empty ``m:Items``, as Exchange does.

    A calendar item, contact or task is stored in SavedItemFolderId, else in its type's default folder; a new
    meeting's attendees get the requests SendMeetingInvitations asks for (``meetings``)."""
    disposition = body.get("MessageDisposition", "SaveOnly")
    saved_in = find(body, "m:SavedItemFolderId")
    messages = []
    for spec in findall(body, "m:Items/*"):
        try:
            categories = [node.text or "" for node in findall(spec, "t:Categories/t:String")]
            extended = extended_properties.parse(spec)
            if (schema := SCHEMAS.get(local_name(spec))) is not None:
                target = None if saved_in is None else ctx.first_folder(saved_in).folder_id
                created = ctx.mailbox.create_item(
                    schema.kind, schema.parse(spec), folder=target, categories=categories, extended_properties=extended
                )
                meetings.created(ctx.store, ctx.mailbox, created, body.get("SendMeetingInvitations"))
                messages.append(ctx.ok(_items(_id_only(created))))
                continue
            mime, recipients = _mime_and_recipients(ctx, spec)
            default = "drafts" if disposition == "SaveOnly" else "sentitems"
            folder = ctx.mailbox.folder(default) if saved_in is None else ctx.first_folder(saved_in)
            if disposition == "SaveOnly":
                saved = ctx.mailbox.add_item(
                    folder.folder_id, mime, is_read=True, categories=categories, extended_properties=extended
                )
                messages.append(ctx.ok(_items(_id_only(saved))))
                continue
            if not recipients:
                raise StateError("ErrorInvalidRecipients", "At least one recipient is required.")
            keep = folder.folder_id if disposition == "SendAndSaveCopy" else None
            ctx.store.send(ctx.mailbox, mime, recipients, keep, extended)
            messages.append(ctx.ok(_items()))
        except StateError as problem:
            messages.append(ctx.fail(problem, _items()))
    return messages


def _apply_updates(ctx: Context, change: ET.Element, *, never_overwrite: bool) -> tuple[Item, Item]:
    """Apply one t:ItemChange: Set/Append/DeleteItemField of item:Categories, of an extended property, of
    message:IsRead on a message, and of the properties of its type (``item_schema``) on a calendar item, contact
    or task. Returns the item before and after.

    With ConflictResolution NeverOverwrite a stale ChangeKey is ErrorIrresolvableConflict."""
    ref = find(change, "t:ItemId")
    if ref is None:
        raise StateError("ErrorInvalidIdEmpty", "The item id is missing.")
    item = ctx.item(ref)
    if never_overwrite and ref.get("ChangeKey") not in (None, item.change_key):
        raise StateError("ErrorIrresolvableConflict", "The item was changed since the ChangeKey was read.")
    categories: list[str] | None = None
    is_read: bool | None = None
    schema = SCHEMAS.get(item.item_type)
    fields: dict[str, object | None] = {}
    extended: dict[ExtendedField, object | None] = {}
    for update in findall(change, "t:Updates/*"):
        action = local_name(update)
        field = find(update, "t:FieldURI")
        uri = None if field is None else field.get("FieldURI")
        if find(update, "t:ExtendedFieldURI") is not None:
            extended_field, value = extended_properties.change(update)
            extended[extended_field] = value
        elif uri == "item:Categories":
            given = [node.text or "" for node in findall(update, "*/t:Categories/t:String")]
            current = list(item.categories) if categories is None else categories
            categories = {"DeleteItemField": [], "AppendToItemField": [*current, *given]}.get(action, given)
        elif uri == "message:IsRead" and schema is None:
            is_read = action != "DeleteItemField" and text_of(update, "*/t:IsRead") in {"true", "1"}  # xs:boolean
        elif schema is not None:
            name, value = schema.change(update, {**item.extra, **fields})
            fields[name] = value
        else:
            raise StateError("ErrorInvalidPropertySet", f"This test server cannot update {uri}.")
    return item, ctx.mailbox.update_item(
        item.item_id, is_read=is_read, categories=categories, fields=fields, extended_properties=extended
    )


def update_item(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """Each change in turn; a meeting's attendees get the updates SendMeetingInvitationsOrCancellations asks for."""
    never_overwrite = body.get("ConflictResolution") == "NeverOverwrite"
    mode = body.get("SendMeetingInvitationsOrCancellations")
    messages = []
    for change in findall(body, "m:ItemChanges/t:ItemChange"):
        try:
            before, item = _apply_updates(ctx, change, never_overwrite=never_overwrite)
        except StateError as problem:
            messages.append(ctx.fail(problem, _items()))
            continue
        meetings.updated(ctx.store, ctx.mailbox, before, item, mode)
        conflicts = element("m:ConflictResults")
        child(conflicts, "m:Count", "0")
        messages.append(ctx.ok(_items(_id_only(item)), conflicts))
    return messages


def move_item(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """A moved item gets a new id, which the response carries."""
    messages = []
    for ref in findall(body, "m:ItemIds/t:ItemId"):
        try:
            target = ctx.first_folder(find(body, "m:ToFolderId"))
            moved = ctx.mailbox.move_item(ctx.item(ref).item_id, target.folder_id)
        except StateError as problem:
            messages.append(ctx.fail(problem, _items()))
            continue
        messages.append(ctx.ok(_items(_id_only(moved))))
    return messages


def delete_item(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """HardDelete and SoftDelete remove the item; MoveToDeletedItems moves it to Deleted Items. A meeting's
    attendees get the cancellations SendMeetingCancellations asks for."""
    to_trash = body.get("DeleteType") == "MoveToDeletedItems"
    messages = []
    for ref in findall(body, "m:ItemIds/t:ItemId"):
        try:
            item = ctx.item(ref)
            trash = ctx.mailbox.folder("deleteditems").folder_id
            if to_trash and item.folder_id != trash:
                ctx.mailbox.move_item(item.item_id, trash)
            else:
                ctx.mailbox.delete_item(item.item_id)
        except StateError as problem:
            messages.append(ctx.fail(problem))
            continue
        meetings.deleted(ctx.store, ctx.mailbox, item, body.get("SendMeetingCancellations"))
        messages.append(ctx.ok())
    return messages


HANDLERS: dict[str, Handler] = {
    "SyncFolderItems": sync_folder_items,
    "GetItem": get_item,
    "FindItem": find_item,
    "CreateItem": create_item,
    "UpdateItem": update_item,
    "MoveItem": move_item,
    "DeleteItem": delete_item,
}
