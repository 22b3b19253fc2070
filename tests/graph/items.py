"""Reading and changing stored messages: get, ``$value`` (MIME), PATCH, move, DELETE, list with ``$filter``.

Only what a sync engine needs is understood; anything else is refused with 400 rather than half-done, so a
client that drifts from what Graph accepts fails here first. The one ``$filter`` understood is
``internetMessageId eq '...'`` (OData doubles a quote inside the literal), the lookup that finds a sent message
again after its reply was lost.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping

from tests.graph.api import ApiError, Context, Reply, Request
from tests.graph.wire import folder_json, message_json, select_of

DEFAULT_TOP = 10  # Graph's page size for a message list
MESSAGE_ID_FILTER = re.compile(r"^\s*internetMessageId\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
UPDATABLE = frozenset({"categories", "isRead"})  # what PATCH may change on a received or sent message


def get(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    message = ctx.state.message(params["user"], params["message"])
    return Reply.of_json(200, message_json(message, select_of(req.query)))


def value(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    return Reply(200, ctx.state.message(params["user"], params["message"]).mime, "message/rfc822")


def update(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    changes = req.json()
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise ApiError(400, "BadRequest", f"This server updates only {sorted(UPDATABLE)}, not {unknown}.")
    categories = changes.get("categories")
    if categories is not None and not (isinstance(categories, list) and all(isinstance(c, str) for c in categories)):
        raise ApiError(400, "BadRequest", "categories must be a list of strings.")
    is_read = changes.get("isRead")
    if is_read is not None and not isinstance(is_read, bool):
        raise ApiError(400, "BadRequest", "isRead must be a boolean.")
    message = ctx.state.update(params["user"], params["message"], categories=categories, is_read=is_read)
    return Reply.of_json(200, message_json(message))


def move(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    destination = req.json().get("destinationId")
    if not isinstance(destination, str) or not destination:
        raise ApiError(400, "ErrorInvalidIdMalformed", "destinationId is missing or malformed.")
    return Reply.of_json(201, message_json(ctx.state.move(params["user"], params["message"], destination)))


def delete(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    ctx.state.delete(params["user"], params["message"])
    return Reply(204, b"")


def listing(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    found = ctx.state.messages(params["user"], params.get("folder"))
    condition = req.query.get("$filter")
    if condition is not None:
        wanted = MESSAGE_ID_FILTER.match(condition)
        if wanted is None:
            raise ApiError(
                400, "ErrorInvalidUrlQueryFilter", f"This server filters only by internetMessageId: {condition}"
            )
        found = [m for m in found if m.internet_message_id == wanted.group(1).replace("''", "'")]
    try:
        top, skip = int(req.query.get("$top", DEFAULT_TOP)), int(req.query.get("$skip", 0))
    except ValueError:
        raise ApiError(400, "BadRequest", "$top and $skip must be integers.") from None
    select = select_of(req.query)
    body: dict[str, object] = {"value": [message_json(m, select) for m in found[skip : skip + top]]}
    if skip + top < len(found):
        query = urllib.parse.urlencode({**req.query, "$skip": skip + top}, safe="$',")
        body["@odata.nextLink"] = f"{req.base_url}{req.path}?{query}"
    return Reply.of_json(200, body)


def folder(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    found = ctx.state.folder(address, params["folder"])
    return Reply.of_json(200, folder_json(found, ctx.state.counts(address, found.id)))


def child_folders(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    """``GET .../mailFolders/{id}/childFolders``: the folder's direct children (one page; mailboxes here are small)."""
    address = params["user"]
    parent = ctx.state.folder(address, params["folder"])
    children = [f for f in ctx.state.folders(address) if f.parent_id == parent.id]
    return Reply.of_json(200, {"value": [folder_json(f, ctx.state.counts(address, f.id)) for f in children]})


def create_child_folder(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    """``POST .../mailFolders/{id}/childFolders`` with ``displayName``; a name taken already is 409, as Graph says."""
    address, name = params["user"], req.json().get("displayName")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "BadRequest", "displayName is required.")
    parent = ctx.state.folder(address, params["folder"])
    if any(f.parent_id == parent.id and f.name.casefold() == name.casefold() for f in ctx.state.folders(address)):
        raise ApiError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
    folder = ctx.state.create_folder(address, name, parent.id)
    return Reply.of_json(201, folder_json(folder, ctx.state.counts(address, folder.id)))
