"""``GET /users/{id}/mailFolders/{id}/messages/delta`` and ``GET /users/{id}/mailFolders/delta``.

A round starts with a request without token (everything in the folder) or from a deltaLink (what changed
since), is fixed at the log position of its first request, and is served in pages of ``Prefer:
odata.maxpagesize`` (Graph's default: 10). Every page but the last carries an ``@odata.nextLink``; the last
carries the ``@odata.deltaLink`` for the next round. Removed messages come back as ``{"id", "@removed"}``
except in a first round. A link from before ``expire_delta_links`` is answered 410 ``syncStateNotFound`` with
a ``Location`` header holding the request that starts over, as Graph answers a resync.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from tests.graph.api import ApiError, Context, Reply, Request
from tests.graph.links import HIERARCHY, DeltaToken, decode, encode
from tests.graph.wire import folder_json, message_json, select_of

DEFAULT_PAGE_SIZE = 10  # Graph's page size for message delta without a Prefer header
MAX_PAGE_SIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
MESSAGE_TYPE = "#microsoft.graph.message"


def messages(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    folder = ctx.state.folder(address, params["folder"])
    base = f"{req.base_url}/users/{urllib.parse.quote(address)}/mailFolders('{folder.id}')/messages/delta"
    token = _round(ctx, req, address, folder.id, base)
    changes = ctx.state.message_changes(address, folder.id, token.since, _until(token))
    if token.since == 0:  # a first round lists what is there; there is nothing to remove yet
        changes = [(change, message) for change, message in changes if not change.removed]
    items: list[dict[str, Any]] = []
    for change, message in changes:
        if message is None:
            items.append({"@odata.type": MESSAGE_TYPE, "id": change.item_id, "@removed": {"reason": "deleted"}})
        else:
            items.append({"@odata.type": MESSAGE_TYPE, **message_json(message, token.select)})
    return _page(req, token, items, base, "message")


def folders(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    base = f"{req.base_url}/users/{urllib.parse.quote(address)}/mailFolders/delta"
    token = _round(ctx, req, address, HIERARCHY, base)
    changed = ctx.state.folder_changes(address, token.since, _until(token))
    items = [folder_json(f, ctx.state.counts(address, f.id)) for f in changed]
    return _page(req, token, items, base, "mailFolder")


def page_size(headers: Mapping[str, str]) -> int:
    found = MAX_PAGE_SIZE.search(headers.get("prefer", ""))
    return max(1, int(found.group(1))) if found else DEFAULT_PAGE_SIZE


def _round(ctx: Context, req: Request, address: str, scope: str, base: str) -> DeltaToken:
    """Where this page starts: a new round, a page within one, or the round after a deltaLink."""
    position, epoch = ctx.state.position(address)
    text = req.query.get("$skiptoken") or req.query.get("$deltatoken")
    if text is None:
        return DeltaToken(scope, since=0, until=position, select=select_of(req.query), epoch=epoch)
    try:
        token = decode(text)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", str(exc)) from None
    if token.scope != scope:
        raise ApiError(400, "BadRequest", "The state token belongs to another folder.")
    if token.epoch != epoch:
        raise ApiError(
            410,
            "syncStateNotFound",
            "The sync state of this delta link is no longer available; start a full synchronization.",
            {"Location": base},
        )
    if token.until is None:  # a deltaLink: the next round runs to where the log is now
        return dataclasses.replace(token, until=position, offset=0)
    return token


def _until(token: DeltaToken) -> int:
    assert token.until is not None  # _round fixes the end of every round it hands out
    return token.until


def _page(req: Request, token: DeltaToken, items: Sequence[dict[str, Any]], base: str, kind: str) -> Reply:
    size = page_size(req.headers)
    end = token.offset + size
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/$metadata#Collection({kind})"}
    if end < len(items):
        body["@odata.nextLink"] = f"{base}?$skiptoken={encode(dataclasses.replace(token, offset=end))}"
    else:
        following = DeltaToken(token.scope, since=_until(token), select=token.select, epoch=token.epoch)
        body["@odata.deltaLink"] = f"{base}?$deltatoken={encode(following)}"
    body["value"] = list(items[token.offset : end])
    return Reply.of_json(200, body)
