"""A mailbox's calendar, contacts and To Do tasks through Microsoft Graph, for ACT sync (``sync/act/port.py``).

Changes come from Graph's delta queries one page at a time, and each page's link (the ``@odata.nextLink``,
then the round's ``@odata.deltaLink``, with the day its round began: ``act_state.py``) is the port's
``state``, checkpointed by the cycle after the page:

- calendar: ``calendarView/delta`` over a window (:data:`CALENDAR_PAST` to :data:`CALENDAR_FUTURE`, fixed
  when a round starts from scratch and moved on every :data:`CALENDAR_REFRESH`), the one event delta of
  Graph v1.0. It shows a series as its occurrences and exceptions, each naming its ``seriesMasterId``:
  the series master is what syncs, so a change to any occurrence reads as a change of the master;
- contacts: ``contacts/delta`` of the default contacts folder;
- tasks: ``todo/lists/{id}/tasks/delta`` of the default To Do list.

Delta pages carry no extended properties, so the changed items of a page are read whole with one ``$batch``
of GETs per 20 items, with the record stamp expanded. Items we create carry the record they were made for
(``crm:<type>:<id>``): in the same extended property EWS writes (exchangelib's ``ExternId``) on events and
contacts, and as a ``linkedResource`` on To Do tasks, which have no extended properties. That is how a crash
between the create and the link write is recovered without a duplicate (``sync/act/cycle.py``).

Throttling (429/503 with Retry-After) is waited out inside the cycle's time budget or handed back as
``ServerBusy`` (``sync/mail/backoff.py``); the client keeps at most four requests in flight per mailbox.
What Graph cannot express as EWS does is listed in ``docs/act.md``.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from sync.act.port import (
    TYPE_OF,
    ActFolder,
    ChangeKind,
    ChangePage,
    Created,
    ExchangeItem,
    ItemChange,
    NewItem,
    OrgStamp,
)
from sync.mail.backoff import BackOff
from sync.mail.errors import MailServerError, MessageGone, PermanentMailError, ServerBusy
from sync.mail.graph import act_contacts, act_events, act_org_stamp, act_state, act_tasks, ews_ids
from sync.mail.graph.client import BatchRequest, GraphClient
from sync.mail.graph.errors import DeltaExpired
from sync.model.options import EntityType

log = logging.getLogger(__name__)

T = TypeVar("T")
STAMP = "String {c11ff724-aa03-4555-9952-8fa248a11c3e} Name External ID"  # exchangelib's ExternId, as EWS writes it
TASK_APP = "Dynamics 365 server-side synchronization"  # the applicationName of our linkedResource on To Do tasks
PAGE_SIZE = 100  # changes per delta page: the checkpoint granularity, as for EWS
CALENDAR_PAST = timedelta(days=365)  # the calendarView window of a delta round started from scratch...
CALENDAR_FUTURE = timedelta(days=3 * 365)  # ...up to three years ahead
CALENDAR_REFRESH = timedelta(days=30)  # a round older than this is finished, then one with today's window starts
NOT_FOUND = frozenset({"ErrorItemNotFound", "itemNotFound", "ResourceNotFound", "ErrorInvalidIdMalformed"})
EVENT_EXPAND = f"singleValueExtendedProperties($filter=id eq '{STAMP}' or id eq '{act_events.SILENT_ATTENDEES}')"
TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
CONTACT_EXPAND = f"singleValueExtendedProperties($filter=id eq '{STAMP}')"


class GraphActMailbox:
    def __init__(
        self, client: GraphClient, address: str, *, deadline: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:  # fmt: skip
        self.client = client
        self._address = address
        self.user = f"/users/{quote(address, safe='@')}"
        self._backoff = BackOff(deadline)
        self._clock = clock
        self._task_list: str | None = None

    @property
    def address(self) -> str:
        return self._address

    def _call(self, request: Callable[[], T], what: str) -> T:
        return self._backoff.run(request, what)

    # --- changes ------------------------------------------------------------------------------------
    def pages(self, folder: ActFolder, state: str | None) -> Iterator[ChangePage]:
        """The changes since ``state``. A calendar round older than :data:`CALENDAR_REFRESH` is first followed to
        its end (so no change it holds is lost), then a new round starts with the window moved to today."""
        saved = act_state.decode(state)
        today = self._clock().astimezone(UTC).date()
        if saved is None:
            yield from self._round(folder, None, today)
            return
        yield from self._round(folder, saved, today)
        if folder is ActFolder.CALENDAR and today - saved.began > CALENDAR_REFRESH:
            log.info("%s: the calendar window of %s moves on to %s", self.address, saved.began, today)
            yield from self._round(folder, None, today)

    def _round(self, folder: ActFolder, saved: act_state.DeltaState | None, today: date) -> Iterator[ChangePage]:
        """One delta round: from ``saved`` to its end, or from scratch when None."""
        object_type = TYPE_OF[folder]
        path, params = (saved.link, None) if saved else self._first(folder)
        began = saved.began if saved else today
        headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
        while True:
            try:
                page = self._call(partial(self.client.get, path, params, headers), f"{folder.value}.delta")
            except DeltaExpired:
                if params is not None:
                    raise
                log.info("%s: the %s delta link expired; starting a full round", self.address, folder.value)
                path, params, began = *self._first(folder), today
                continue
            following = page.get("@odata.nextLink") or page.get("@odata.deltaLink")
            state = act_state.encode(act_state.DeltaState(str(following), began)) if following else None
            yield ChangePage(self._changes(object_type, page.get("value") or []), state)
            if not page.get("@odata.nextLink"):
                return
            path, params = str(following), None

    def _first(self, folder: ActFolder) -> tuple[str, dict[str, str] | None]:
        if folder is ActFolder.CALENDAR:
            now = self._clock().astimezone(UTC).replace(tzinfo=None, microsecond=0)
            window = {
                "startDateTime": (now - CALENDAR_PAST).isoformat(),
                "endDateTime": (now + CALENDAR_FUTURE).isoformat(),
            }
            return f"{self.user}/calendarView/delta", window
        if folder is ActFolder.CONTACTS:
            return f"{self.user}/contacts/delta", {"$select": "changeKey"}
        return f"{self._tasks()}/delta", {"$select": "id"}

    def _changes(self, object_type: EntityType, values: list[dict[str, Any]]) -> list[ItemChange]:
        """A page's removals, and its changed items read whole (an occurrence stands for its series)."""
        changes = [ItemChange(ChangeKind.DELETE, str(v["id"])) for v in values if "@removed" in v]
        wanted = list(dict.fromkeys(str(v.get("seriesMasterId") or v["id"]) for v in values if "@removed" not in v))
        for body in self._read(object_type, wanted):
            item = self._item(object_type, body)
            if item is not None:
                changes.append(ItemChange(ChangeKind.UPDATE, item.item_id, item))
        return changes

    def _read(self, object_type: EntityType, item_ids: list[str]) -> list[dict[str, Any]]:
        """The items, in one ``$batch`` per 20; one that is gone again is left out (its removal comes later).

        Outlook runs at most four requests of a batch at once and may answer the others 429: only those are
        asked again, after the Retry-After, so a throttled batch never re-reads what it already has.
        """
        found: dict[str, dict[str, Any]] = {}
        pending = list(item_ids)

        def read() -> None:
            nonlocal pending
            calls = [BatchRequest("GET", self._item_url(object_type, i, expanded=True)) for i in pending]
            throttled: ServerBusy | None = None
            left = []
            for item_id, answer in zip(pending, self.client.batch(calls), strict=True):
                error = answer.error()
                if error is None:
                    if isinstance(answer.body, dict):
                        found[item_id] = answer.body
                elif isinstance(error, ServerBusy):
                    left.append(item_id)
                    throttled = throttled or error
                elif not _gone(error):
                    raise error
            pending = left
            if throttled is not None:
                raise throttled

        if pending:
            self._call(read, "act.read")
        return [found[i] for i in item_ids if i in found]

    def _item(self, object_type: EntityType, body: Mapping[str, Any]) -> ExchangeItem | None:
        try:
            if object_type is EntityType.APPOINTMENT:
                fields = act_events.event_fields(body)
            elif object_type is EntityType.CONTACT:
                fields = act_contacts.contact_fields(body)
            else:
                fields = act_tasks.task_fields(body)
        except (ValueError, KeyError, TypeError) as exc:  # e.g. a "second Tuesday" series: no CRM counterpart
            log.warning(
                "%s: %s item %s cannot be synchronized: %s", self.address, object_type.name, body.get("id"), exc
            )
            return None
        organizer = ((body.get("organizer") or {}).get("emailAddress") or {}).get("address")
        return ExchangeItem(
            item_id=str(body["id"]),
            change_key=_change_key(object_type, body),
            object_type=object_type,
            fields=fields,
            modified_on=_when(body.get("lastModifiedDateTime")) or self._clock(),
            categories=tuple(body.get("categories") or ()),
            crm_ref=_stamp(object_type, body),
            organizer=organizer or None,
        )

    # --- reads and writes ---------------------------------------------------------------------------
    def get(self, object_type: EntityType, item_id: str) -> ExchangeItem | None:
        body = self._read_one(object_type, item_id)
        return None if body is None else self._item(object_type, body)

    def _read_one(self, object_type: EntityType, item_id: str) -> dict[str, Any] | None:
        """The item as Graph has it now, or None when it is gone."""
        url = self._item_url(object_type, item_id, expanded=True)
        try:
            return self._call(lambda: self.client.get(url), "act.get")
        except PermanentMailError as exc:
            if _gone(exc):
                return None
            raise

    @property
    def removes_series_as_occurrences(self) -> bool:
        return True  # calendarView delta removes a deleted series' occurrences, never its master

    def gone(self, object_type: EntityType, item_ids: Sequence[str]) -> set[str]:
        """One GET of each id (``$select=id``) in ``$batch``es of 20: a 404 is gone; throttled ones are asked again."""
        missing: set[str] = set()
        pending = list(item_ids)

        def check() -> None:
            nonlocal pending
            calls = [BatchRequest("GET", f"{self._item_url(object_type, i)}?$select=id") for i in pending]
            throttled: ServerBusy | None = None
            left = []
            for item_id, answer in zip(pending, self.client.batch(calls), strict=True):
                error = answer.error()
                if isinstance(error, ServerBusy):
                    left.append(item_id)
                    throttled = throttled or error
                elif error is not None:
                    if not _gone(error):
                        raise error
                    missing.add(item_id)
            pending = left
            if throttled is not None:
                raise throttled

        if pending:
            self._call(check, "act.gone")
        return missing

    def carries_over(self, state: str | None) -> bool:
        return bool(state) and act_state.decode(state) is None  # an EWS sync state: the profile used EWS before

    def own_ids(self, object_type: EntityType, item_ids: Sequence[str]) -> dict[str, str]:
        """Each EWS id's URL-safe spellings (``ews_ids.py``) asked in turn with :meth:`gone`, the second only where
        the first is not found: the one Graph has is ours. An id without ``/`` or ``+`` is its own REST id and
        costs no request (so a link moved already is not asked again when a crash repeats the move)."""
        left = {ews_id: ews_ids.rest_spellings(ews_id) for ews_id in item_ids if ews_ids.needs_spelling(ews_id)}
        own: dict[str, str] = {}
        for turn in range(2):
            asked = {ews_id: found[turn] for ews_id, found in left.items() if len(found) > turn}
            missing = self.gone(object_type, sorted(set(asked.values()))) if asked else set()
            own |= {ews_id: spelling for ews_id, spelling in asked.items() if spelling not in missing}
            left = {ews_id: found for ews_id, found in left.items() if ews_id not in own}
        return own

    def create(
        self, object_type: EntityType, fields: Mapping[str, object], crm_ref: str, *, send_invitations: bool = False
    ) -> tuple[str, str]:
        body = self._new_body(NewItem(object_type, fields, crm_ref, send_invitations))
        created = self._call(lambda: self.client.post(self._collection(object_type), body), "act.create")
        return _created(object_type, created)

    def create_many(self, items: Sequence[NewItem]) -> list[Created]:
        """The items POSTed in ``$batch``es of 20. Throttled ones (429) are sent again after the Retry-After,
        alone, so an item is never created twice; one refused is that item's answer."""
        answers: dict[int, Created] = {}
        pending = list(range(len(items)))

        def create() -> None:
            nonlocal pending
            calls = [
                BatchRequest("POST", self._collection(items[i].object_type), self._new_body(items[i])) for i in pending
            ]
            throttled: ServerBusy | None = None
            left = []
            for position, answer in zip(pending, self.client.batch(calls), strict=True):
                error = answer.error()
                if isinstance(error, ServerBusy):
                    left.append(position)
                    throttled = throttled or error
                    continue
                try:
                    if error is not None:
                        raise error
                    answers[position] = _created(items[position].object_type, answer.body)
                except MailServerError as exc:
                    answers[position] = exc
            pending = left
            if throttled is not None:
                raise throttled

        try:
            if pending:
                self._call(create, "act.create")
        except MailServerError as exc:  # the mailbox's: every item not created has it as its answer
            for position in pending:
                answers.setdefault(position, exc)
        return [answers[i] for i in range(len(items))]

    def _new_body(self, new: NewItem) -> dict[str, Any]:
        """A new item's body, stamped with the record it is made for."""
        body = self._body(new.object_type, new.fields, new.fields.keys(), new.send_invitations)
        if new.object_type is EntityType.TASK:
            body["linkedResources"] = [
                {"applicationName": TASK_APP, "externalId": new.crm_ref, "displayName": body.get("title", "")}
            ]
        else:
            body["singleValueExtendedProperties"] = [
                {"id": STAMP, "value": new.crm_ref},
                *body.get("singleValueExtendedProperties", []),
            ]
        return body

    def update(
        self, object_type: EntityType, item_id: str, change_key: str, changes: Mapping[str, object], *,
        send_invitations: bool = False,
    ) -> str:  # fmt: skip
        """Change some fields; the new change key. A meeting whose attendees were invited keeps them as attendees
        even when no invitation is asked for now: taking them off would send each a cancellation."""
        fields: Mapping[str, object] = changes
        meeting = object_type is EntityType.APPOINTMENT and not set(act_events.ATTENDEES).isdisjoint(changes)
        invite = send_invitations
        if _needs_current(object_type, changes) or (meeting and not send_invitations):
            current = self._read_one(object_type, item_id)
            item = None if current is None else self._item(object_type, current)
            if current is None or item is None:
                raise MessageGone(f"the {object_type.name.lower()} item is gone from Exchange Online")
            fields = {**item.fields, **changes}
            invite = send_invitations or (meeting and bool(current.get("attendees")))
        body = self._body(object_type, fields, changes.keys(), invite)
        if not body:
            return change_key  # nothing Graph can write (e.g. a To Do task's percent complete)
        url = self._item_url(object_type, item_id)
        try:
            updated = self._call(lambda: self.client.patch(url, body), "act.update")
        except PermanentMailError as exc:
            if _gone(exc):
                raise MessageGone(f"the {object_type.name.lower()} item is gone from Exchange Online: {exc}") from None
            raise
        return _change_key(object_type, updated)

    def delete(self, object_type: EntityType, item_id: str, *, send_cancellations: bool = False) -> None:
        """Gone already is done. ``send_cancellations``: ``cancel`` (the attendees get a cancellation). Otherwise
        a plain DELETE, which Graph too turns into a cancellation for a meeting whose attendees were invited; one
        written without invitations keeps its attendees out of ``attendees``, so it goes without a word."""
        url = self._item_url(object_type, item_id)
        try:
            if object_type is EntityType.APPOINTMENT and send_cancellations:
                try:
                    self._call(lambda: self.client.post(f"{url}/cancel", {"comment": ""}), "act.cancel")
                    return
                except PermanentMailError as exc:
                    if _gone(exc):
                        return
                    log.info("%s: cancel refused (%s); deleting without a cancellation", self.address, exc.code)
            self._call(lambda: self.client.delete(url), "act.delete")
        except PermanentMailError as exc:
            if not _gone(exc):
                raise

    def _body(
        self, object_type: EntityType, fields: Mapping[str, object], changed: Any, invite: bool
    ) -> dict[str, Any]:
        if object_type is EntityType.APPOINTMENT:
            body, extended = act_events.event_body(fields, changed, invite=invite)
            return body | ({"singleValueExtendedProperties": extended} if extended else {})
        if object_type is EntityType.CONTACT:
            return act_contacts.contact_body(fields, changed)
        return act_tasks.task_body(fields, changed)

    # --- Test & Enable, R-TE-7 -----------------------------------------------------------------------
    def probe(self) -> None:
        """The calendar, the contacts and the To Do lists answer, in one batch (Test & Enable's ACT check)."""
        calls = [
            BatchRequest("GET", f"{self.user}/calendar"),
            BatchRequest("GET", f"{self.user}/contacts?$top=1&$select=id"),
            BatchRequest("GET", f"{self.user}/todo/lists"),
        ]

        def probe() -> list[Any]:
            answers = self.client.batch(calls)
            for answer in answers:
                error = answer.error()
                if error is not None:
                    raise error
            return list((answers[-1].body or {}).get("value") or [])

        self._task_list = _default_list(self._call(probe, "act.probe"))

    def read_org_stamp(self) -> OrgStamp | None:
        calendar = self._call(lambda: self.client.get(f"{self.user}/calendar", act_org_stamp.EXPAND), "calendar.get")
        return act_org_stamp.read_stamp(calendar)

    def write_org_stamp(self, stamp: OrgStamp) -> None:
        body = act_org_stamp.stamp_body(stamp)
        self._call(lambda: self.client.patch(f"{self.user}/calendar", body), "calendar.update")

    # --- where items live ---------------------------------------------------------------------------
    def _tasks(self) -> str:
        """The default To Do list's tasks (Outlook's Tasks folder), found once per session."""
        if self._task_list is None:
            lists = self._call(lambda: self.client.get(f"{self.user}/todo/lists"), "todo.lists").get("value") or []
            self._task_list = _default_list(lists)
        return f"{self.user}/todo/lists/{quote(self._task_list, safe='')}/tasks"

    def _collection(self, object_type: EntityType) -> str:
        if object_type is EntityType.APPOINTMENT:
            return f"{self.user}/events"
        if object_type is EntityType.CONTACT:
            return f"{self.user}/contacts"
        return self._tasks()

    def _item_url(self, object_type: EntityType, item_id: str, *, expanded: bool = False) -> str:
        url = f"{self._collection(object_type)}/{quote(item_id, safe='')}"
        if not expanded:
            return url
        expand = {EntityType.APPOINTMENT: EVENT_EXPAND, EntityType.CONTACT: CONTACT_EXPAND}.get(
            object_type, "linkedResources"
        )
        return f"{url}?$expand={urllib.parse.quote(expand, safe='$=(),')}"


def _created(object_type: EntityType, created: Any) -> tuple[str, str]:
    if not isinstance(created, dict) or "id" not in created:
        raise PermanentMailError(f"{object_type.name.lower()} create: Graph answered without the item")
    return str(created["id"]), _change_key(object_type, created)


def _default_list(lists: list[Any]) -> str:
    """The id of the default To Do list (Outlook's Tasks folder)."""
    default = next((t for t in lists if isinstance(t, dict) and t.get("wellknownListName") == "defaultList"), None)
    if default is None:
        raise PermanentMailError("the mailbox has no default To Do list", code="TaskListMissing")
    return str(default["id"])


def _needs_current(object_type: EntityType, changes: Mapping[str, object]) -> bool:
    if object_type is EntityType.APPOINTMENT:
        return act_events.needs_current(changes)
    if object_type is EntityType.CONTACT:
        return act_contacts.needs_current(changes)
    return False


def _change_key(object_type: EntityType, body: Mapping[str, Any]) -> str:
    """Events and contacts have a change key; a To Do task's ETag is its version."""
    if object_type is EntityType.TASK:
        return str(body.get("@odata.etag") or "")
    return str(body.get("changeKey") or body.get("@odata.etag") or "")


def _stamp(object_type: EntityType, body: Mapping[str, Any]) -> str | None:
    if object_type is EntityType.TASK:
        links = body.get("linkedResources") or []
        return next(
            (str(r["externalId"]) for r in links if r.get("applicationName") == TASK_APP and r.get("externalId")), None
        )
    for prop in body.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == STAMP.lower():
            return str(prop.get("value") or "") or None
    return None


def _gone(error: MailServerError) -> bool:
    return (error.code or "") in NOT_FOUND or "HTTP 404" in str(error)


def _when(text: Any) -> datetime | None:
    """Graph's timestamps have up to seven fractional digits and a ``Z``; Python reads six."""
    found = TIMESTAMP.match(text) if isinstance(text, str) else None
    if found is None:
        return None
    base, fraction, zone = found.groups()
    moment = datetime.fromisoformat(base + (fraction or "")[:7] + ("+00:00" if zone in (None, "Z") else zone))
    return moment.astimezone(UTC)
