"""Delta rounds of the calendar (``calendarView/delta``), the contacts (``contacts/delta``) and a To Do list
(``todo/lists/{id}/tasks/delta``), served like message delta (``delta.py``): pages of ``Prefer:
odata.maxpagesize``, an ``@odata.nextLink`` on every page but the last, an ``@odata.deltaLink`` on the last,
``@removed`` entries for deletes (not in a first round), 410 ``syncStateNotFound`` after
``expire_delta_links``.

``calendarView/delta`` follows Graph v1.0: the first request must give ``startDateTime`` and ``endDateTime``
(the window is then carried in the links), ``$select``/``$expand``/``$filter`` are refused, and a series comes
back as its occurrences and exceptions in the window (each with ``seriesMasterId``), never as its master.
"""

from __future__ import annotations

import dataclasses
import datetime
import urllib.parse
from collections.abc import Mapping
from typing import Any

from tests.graph.api import ApiError, Context, Reply, Request
from tests.graph.delta import _page
from tests.graph.links import DeltaToken, decode
from tests.graph.pim_state import CALENDAR, CONTACTS, PimItem, occurrence_id
from tests.graph.pim_wire import (
    contact_json,
    day_shift,
    event_json,
    occurrence_days,
    parse_moment,
    preferred_zone,
    task_json,
)
from tests.graph.wire import select_of

EVENT_TYPE = "#microsoft.graph.event"


def calendar_view(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    base = f"{req.base_url}/users/{urllib.parse.quote(address)}/calendarView/delta"
    if any(name in req.query for name in ("$select", "$expand", "$filter", "$orderby")):
        raise ApiError(400, "ErrorInvalidUrlQuery", "calendarView delta does not support $select, $expand or $filter.")
    scope = _window_scope(req)
    token = _round(ctx, req, address, scope, base)
    _, start, end = token.scope.split("|")
    window = (datetime.datetime.fromisoformat(start), datetime.datetime.fromisoformat(end))
    zone_name = preferred_zone(req.headers)
    items: list[dict[str, Any]] = []
    with ctx.state.pim(address) as pim:
        for _change, item, tombstone in pim.changes(CALENDAR, token.since, _until(token)):
            if item is not None:
                items += _in_window(item, window, zone_name, cancelled_too=bool(token.since))
            elif token.since and tombstone is not None:
                items += [_removed(e["id"]) for e in _in_window(tombstone, window, "UTC", cancelled_too=True)]
    return _page(req, token, items, base, "event")


def contacts(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    base = f"{req.base_url}/users/{urllib.parse.quote(address)}/contacts/delta"
    token = _round(ctx, req, address, CONTACTS, base)
    items: list[dict[str, Any]] = []
    with ctx.state.pim(address) as pim:
        for change, item, _ in pim.changes(CONTACTS, token.since, _until(token)):
            if item is not None:
                items.append(_selected(contact_json(item, CONTACTS), token.select))
            elif token.since:
                items.append(_removed(change.item_id))
    return _page(req, token, items, base, "contact")


def tasks(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address, list_id = params["user"], params["list"]
    base = f"{req.base_url}/users/{urllib.parse.quote(address)}/todo/lists/{list_id}/tasks/delta"
    with ctx.state.pim(address) as pim:
        pim.task_list(list_id)
    token = _round(ctx, req, address, f"todo:{list_id}", base)
    items: list[dict[str, Any]] = []
    with ctx.state.pim(address) as pim:
        for change, item, _ in pim.changes(f"todo:{list_id}", token.since, _until(token)):
            if item is not None:
                items.append(_selected(task_json(item), token.select))
            elif token.since:
                items.append(_removed(change.item_id))
    return _page(req, token, items, base, "todoTask")


def _window_scope(req: Request) -> str | None:
    """``calendar|start|end`` for a first request; None when a token carries the window."""
    if "$skiptoken" in req.query or "$deltatoken" in req.query:
        return None
    start, end = req.query.get("startDateTime"), req.query.get("endDateTime")
    if not start or not end:
        raise ApiError(400, "ErrorInvalidParameter", "This request requires a time window specified by the query "
                       "string parameters StartDateTime and EndDateTime.")  # fmt: skip
    begins, _ = parse_moment({"dateTime": start, "timeZone": "UTC"}, "startDateTime")
    ends, _ = parse_moment({"dateTime": end, "timeZone": "UTC"}, "endDateTime")
    return f"{CALENDAR}|{begins.isoformat()}|{ends.isoformat()}"


def _in_window(
    item: PimItem, window: tuple[datetime.datetime, datetime.datetime], zone_name: str, *, cancelled_too: bool = False
) -> list[dict[str, Any]]:
    """The event as calendarView shows it: a single instance, or each occurrence of a series in the window."""
    start, start_zone = parse_moment(item.data["start"], "start")
    end, _ = parse_moment(item.data["end"], "end")
    recurrence = item.data.get("recurrence")
    if recurrence is None:
        inside = start < window[1] and window[0] < end
        return [{"@odata.type": EVENT_TYPE, **event_json(item, zone_name)}] if inside else []
    shown = []
    for day in occurrence_days(recurrence, window[1].date()):
        shift = day_shift(start, start_zone, day)
        if not (start + shift < window[1] and window[0] < end + shift):
            continue
        if day in item.cancelled:
            if cancelled_too:
                shown.append(_removed(occurrence_id(item.id, day)))
            continue
        shown.append({"@odata.type": EVENT_TYPE, **event_json(item, zone_name, occurrence=day)})
    return shown


def _removed(item_id: str) -> dict[str, Any]:
    return {"id": item_id, "@removed": {"reason": "deleted"}}


def _selected(rendered: dict[str, Any], select: tuple[str, ...]) -> dict[str, Any]:
    if not select:
        return rendered
    return {k: v for k, v in rendered.items() if k in ("id", "@odata.etag") or k in select}


def _round(ctx: Context, req: Request, address: str, scope: str | None, base: str) -> DeltaToken:
    position, epoch = ctx.state.position(address)
    text = req.query.get("$skiptoken") or req.query.get("$deltatoken")
    if text is None:
        assert scope is not None
        return DeltaToken(scope, since=0, until=position, select=select_of(req.query), epoch=epoch)
    try:
        token = decode(text)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", str(exc)) from None
    if token.scope.split("|")[0] != (scope or CALENDAR).split("|")[0]:
        raise ApiError(400, "BadRequest", "The state token belongs to another collection.")
    if token.epoch != epoch:
        raise ApiError(410, "syncStateNotFound", "The sync state of this delta link is no longer available; start a "
                       "full synchronization.", {"Location": base})  # fmt: skip
    if token.until is None:
        return dataclasses.replace(token, until=position, offset=0)
    return token


def _until(token: DeltaToken) -> int:
    assert token.until is not None
    return token.until
