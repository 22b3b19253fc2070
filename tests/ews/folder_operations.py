"""Folder operations: GetFolder, FindFolder, CreateFolder, UpdateFolder and SyncFolderHierarchy.

UpdateFolder here changes extended properties only (what a client stamps on a folder); renames and moves are
the test's own business (``Mailbox.update_folder``) and answer ErrorInvalidPropertySet.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.ews import extended_properties
from tests.ews.errors import StateError
from tests.ews.operations import Context, Handler, paged
from tests.ews.shapes import folder_element, requested_fields
from tests.ews.soap import child, element, find, findall, local_name, text_of
from tests.ews.state import Folder
from tests.ews.values import ExtendedField

CLASS_BY_TAG = {"CalendarFolder": "IPF.Appointment", "ContactsFolder": "IPF.Contact", "TasksFolder": "IPF.Task"}


def _folders(*nodes: ET.Element) -> ET.Element:
    container = element("m:Folders")
    container.extend(nodes)
    return container


def get_folder(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """One response message per requested folder; unknown ones (an archive, say) are ErrorFolderNotFound."""
    shape, fields = requested_fields(find(body, "m:FolderShape"))
    extended = extended_properties.requested(find(body, "m:FolderShape"))
    messages = []
    for ref in findall(body, "m:FolderIds/*"):
        try:
            folder = ctx.folder(ref)
        except StateError as problem:
            messages.append(ctx.fail(problem))
            continue
        owned = extended_properties.elements(folder.extended_properties, extended)
        messages.append(ctx.ok(_folders(folder_element(ctx.mailbox, folder, shape, fields, owned))))
    return messages


def find_folder(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """Children (Shallow) or all descendants depth-first (Deep) of each parent folder, paged."""
    shape, fields = requested_fields(find(body, "m:FolderShape"))
    deep = body.get("Traversal") == "Deep"
    messages = []
    for ref in findall(body, "m:ParentFolderIds/*"):
        try:
            parent = ctx.folder(ref)
        except StateError as problem:
            messages.append(ctx.fail(problem))
            continue
        root, page = paged(find(body, "m:IndexedPageFolderView"), ctx.mailbox.children(parent.folder_id, deep=deep))
        container = element("t:Folders")
        container.extend(folder_element(ctx.mailbox, f, shape, fields) for f in page)
        root.append(container)
        messages.append(ctx.ok(root))
    return messages


def create_folder(ctx: Context, body: ET.Element) -> list[ET.Element]:
    try:
        parent = ctx.first_folder(find(body, "m:ParentFolderId"))
    except StateError as problem:
        return [ctx.fail(problem) for _ in findall(body, "m:Folders/*")]
    messages = []
    for spec in findall(body, "m:Folders/*"):
        kind = local_name(spec)
        folder_class = text_of(spec, "t:FolderClass") or CLASS_BY_TAG.get(kind, "IPF.Note")
        try:
            folder = ctx.mailbox.create_folder(parent.folder_id, text_of(spec, "t:DisplayName") or "", folder_class)
        except StateError as problem:
            messages.append(ctx.fail(problem))
            continue
        messages.append(ctx.ok(_folders(folder_element(ctx.mailbox, folder, "IdOnly", set()))))
    return messages


def update_folder(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """One response message per t:FolderChange: its Set/DeleteFolderField of extended properties applied."""
    messages = []
    for change in findall(body, "m:FolderChanges/t:FolderChange"):
        try:
            folder = ctx.folder(change[0])
            updates: dict[ExtendedField, object | None] = {}
            for update in findall(change, "t:Updates/*"):
                if len(update) == 0 or local_name(update[0]) != "ExtendedFieldURI":
                    raise StateError("ErrorInvalidPropertySet", "This test server updates extended properties only.")
                name, value = extended_properties.change(update)
                updates[name] = value
            folder = ctx.mailbox.set_folder_properties(folder.folder_id, updates)
        except StateError as problem:
            messages.append(ctx.fail(problem))
            continue
        messages.append(ctx.ok(_folders(folder_element(ctx.mailbox, folder, "IdOnly", set()))))
    return messages


def sync_folder_hierarchy(ctx: Context, body: ET.Element) -> list[ET.Element]:
    """All folder changes below the sync folder (the mailbox root if none) in one page."""
    shape, fields = requested_fields(find(body, "m:FolderShape"))
    sync_folder = find(body, "m:SyncFolderId")
    try:
        folder = ctx.mailbox.folder("root") if sync_folder is None else ctx.first_folder(sync_folder)
        result = ctx.mailbox.folder_changes(folder.folder_id, text_of(body, "m:SyncState"))
    except StateError as problem:
        return [ctx.fail(problem, element("m:SyncState"), element("m:IncludesLastFolderInRange", "true"))]
    changes = element("m:Changes")
    for kind, changed in result.changes:
        change = child(changes, f"t:{kind}")
        if isinstance(changed, Folder):
            change.append(folder_element(ctx.mailbox, changed, shape, fields))
        else:
            change.append(element("t:FolderId", Id=str(changed)))
    state = element("m:SyncState", result.sync_state)
    return [ctx.ok(state, element("m:IncludesLastFolderInRange", "true"), changes)]


HANDLERS: dict[str, Handler] = {
    "GetFolder": get_folder,
    "FindFolder": find_folder,
    "CreateFolder": create_folder,
    "UpdateFolder": update_folder,
    "SyncFolderHierarchy": sync_folder_hierarchy,
}
