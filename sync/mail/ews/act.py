"""A mailbox's calendar, contacts and tasks through EWS, for ACT synchronization (``sync/act/port.py``).

Changes come from SyncFolderItems one page at a time (IdOnly), then the changed items are read whole
with one GetItem per page. Items we create carry the record they were made for in exchangelib's
``ExternId`` extended property, which is how a crash between CreateItem and the link write is recovered
without a duplicate (``sync/act/cycle.py``). Meeting invitations, updates and cancellations are sent by
Exchange when the cycle asks (``sync/act/invitations.py``): SendToAllAndSaveCopy on CreateItem, UpdateItem
and DeleteItem, else SendToNone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from exchangelib import CalendarItem, Contact
from exchangelib.extended_properties import ExternId
from exchangelib.items import ID_ONLY, SAVE_ONLY, SEND_TO_ALL_AND_SAVE_COPY, SEND_TO_NONE, Item, Task
from exchangelib.properties import DistinguishedFolderId
from exchangelib.properties import Mailbox as EwsMailbox
from exchangelib.services import SyncFolderItems

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
    stops_mailbox,
)
from sync.mail.errors import MailServerError, MessageGone
from sync.mail.ews import act_items, org_stamp
from sync.mail.ews.errors import translate
from sync.mail.ews.session import EwsSession
from sync.model.options import EntityType

PAGE_SIZE = 100  # changes per SyncFolderItems page: the checkpoint granularity
STAMP = "extern_id"
READERS = {
    EntityType.APPOINTMENT: act_items.calendar_fields,
    EntityType.CONTACT: act_items.contact_fields,
    EntityType.TASK: act_items.task_fields,
}
_registered = threading.Lock()


def register_stamp() -> None:
    """exchangelib learns our extended property once per process (registration is global)."""
    with _registered:
        for cls in (CalendarItem, Contact, Task):
            if STAMP not in {f.name for f in cls.FIELDS}:
                cls.register(STAMP, ExternId)


class EwsActMailbox:
    def __init__(self, session: EwsSession) -> None:
        register_stamp()
        self.session = session
        self.account = session.account

    @property
    def address(self) -> str:
        return str(self.account.primary_smtp_address)

    def _folder(self, folder: ActFolder) -> DistinguishedFolderId:
        return DistinguishedFolderId(id=folder.value, mailbox=EwsMailbox(email_address=self.address))

    def pages(self, folder: ActFolder, state: str | None) -> Iterator[ChangePage]:
        object_type = TYPE_OF[folder]
        while True:
            service = SyncFolderItems(account=self.account)
            raw = self.session.call(self._page(service, folder, state), "SyncFolderItems")
            yield ChangePage(self._changes(object_type, raw), service.sync_state)
            if service.includes_last_item_in_range or service.sync_state == state:
                return
            state = service.sync_state

    def _page(
        self, service: SyncFolderItems, folder: ActFolder, state: str | None
    ) -> Callable[[], list[tuple[str, Any]]]:
        def page() -> list[tuple[str, Any]]:
            changes = service.call(
                folder=self._folder(folder), shape=ID_ONLY, additional_fields=set(), sync_state=state,
                ignore=None, max_changes_returned=PAGE_SIZE, sync_scope=None,
            )  # fmt: skip
            return list(changes)

        return page

    def _changes(self, object_type: EntityType, raw: list[tuple[str, Any]]) -> list[ItemChange]:
        changes: list[ItemChange] = []
        wanted: list[tuple[str, str]] = []
        kinds: list[ChangeKind] = []
        for kind, item in raw:
            if kind == SyncFolderItems.DELETE:
                changes.append(ItemChange(ChangeKind.DELETE, str(item.id)))
            elif kind in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE) and getattr(item, "id", None):
                wanted.append((str(item.id), str(item.changekey)))
                kinds.append(ChangeKind.CREATE if kind == SyncFolderItems.CREATE else ChangeKind.UPDATE)
        fetched = self.session.call(lambda: list(self.account.fetch(wanted)), "GetItem") if wanted else []
        for (item_id, _), kind, item in zip(wanted, kinds, fetched, strict=False):
            if isinstance(item, Exception):
                continue  # gone again since it changed: its delete comes in a later page
            changes.append(ItemChange(kind, item_id, self._item(object_type, item)))
        return changes

    def _item(self, object_type: EntityType, item: Any) -> ExchangeItem:
        modified = item.last_modified_time
        organizer = getattr(item, "organizer", None)
        return ExchangeItem(
            item_id=str(item.id),
            change_key=str(item.changekey),
            object_type=object_type,
            fields=READERS[object_type](item),
            modified_on=datetime.fromtimestamp(modified.timestamp(), tz=UTC) if modified else datetime.now(UTC),
            categories=tuple(item.categories or ()),
            crm_ref=getattr(item, STAMP, None),
            organizer=getattr(organizer, "email_address", None),
        )

    def probe(self) -> None:
        """The calendar, contacts and tasks folders answer (Test & Enable's ACT check)."""
        for name in ("calendar", "contacts", "tasks"):
            self.session.call(partial(getattr, self.account, name), "GetFolder")

    def read_org_stamp(self) -> OrgStamp | None:
        return org_stamp.read_stamp(self.session)

    def write_org_stamp(self, stamp: OrgStamp) -> None:
        org_stamp.write_stamp(self.session, stamp)

    def get(self, object_type: EntityType, item_id: str) -> ExchangeItem | None:
        [item] = self.session.call(lambda: list(self.account.fetch([(item_id, None)])), "GetItem")
        return None if isinstance(item, Exception) else self._item(object_type, item)

    def create(
        self, object_type: EntityType, fields: Mapping[str, object], crm_ref: str, *, send_invitations: bool = False
    ) -> tuple[str, str]:
        folder = self.account.calendar if object_type is EntityType.APPOINTMENT else None
        folder = folder or (self.account.contacts if object_type is EntityType.CONTACT else self.account.tasks)
        item = act_items.new_item(object_type, fields, self.account, folder)
        setattr(item, STAMP, crm_ref)
        self.session.call(lambda: _save(item, send=send_invitations), "CreateItem")
        return str(item.id), str(item.changekey)

    @property
    def removes_series_as_occurrences(self) -> bool:
        return False  # SyncFolderItems names the deleted series master

    def gone(self, object_type: EntityType, item_ids: Sequence[str]) -> set[str]:
        if not item_ids:
            return set()
        ids = [(item_id, None) for item_id in item_ids]
        found = self.session.call(lambda: list(self.account.fetch(ids, only_fields=["id"])), "GetItem")
        return {item_id for item_id, item in zip(item_ids, found, strict=True) if isinstance(item, Exception)}

    def carries_over(self, state: str | None) -> bool:
        return False  # a profile moved from Graph back to EWS is not supported (docs/exchange.md)

    def own_ids(self, object_type: EntityType, item_ids: Sequence[str]) -> dict[str, str]:
        return {}

    def create_many(self, items: Sequence[NewItem]) -> list[Created]:
        """One CreateItem per folder and invitation choice (exchangelib's ``bulk_create``, 100 items a request); an
        item EWS refuses is that item's answer, a failed request every one of its items'."""
        answers: dict[int, Created] = {}
        groups: dict[tuple[EntityType, bool], list[int]] = {}
        for position, new in enumerate(items):
            groups.setdefault((new.object_type, new.send_invitations), []).append(position)
        for (object_type, send), positions in groups.items():
            if any(stops_mailbox(a) for a in answers.values() if isinstance(a, Exception)):
                answers |= {p: next(a for a in answers.values() if isinstance(a, Exception)) for p in positions}
                continue
            answers |= self._create_group(object_type, send, [(p, items[p]) for p in positions])
        return [answers[p] for p in range(len(items))]

    def _create_group(
        self, object_type: EntityType, send: bool, group: list[tuple[int, NewItem]]
    ) -> dict[int, Created]:
        folder = self._home(object_type)
        answers: dict[int, Created] = {}
        built: list[tuple[int, Item]] = []
        for position, new in group:
            try:
                item = act_items.new_item(object_type, new.fields, self.account, folder)
            except ValueError as exc:
                answers[position] = exc
                continue
            setattr(item, STAMP, new.crm_ref)
            built.append((position, item))
        if not built:
            return answers
        options: dict[str, Any] = {"message_disposition": SAVE_ONLY}
        if object_type is EntityType.APPOINTMENT:
            options["send_meeting_invitations"] = SEND_TO_ALL_AND_SAVE_COPY if send else SEND_TO_NONE
        try:
            results = self.session.call(
                lambda: list(self.account.bulk_create(folder, [item for _, item in built], **options)), "CreateItem"
            )
        except MailServerError as exc:
            return answers | {position: exc for position, _ in built}
        for (position, _), result in zip(built, results, strict=True):
            if isinstance(result, Exception):
                answers[position] = translate(result, what="CreateItem")
            else:
                answers[position] = (str(result.id), str(result.changekey))
        return answers

    def _home(self, object_type: EntityType) -> Any:
        """The folder new items of this type go to."""
        if object_type is EntityType.APPOINTMENT:
            return self.account.calendar
        return self.account.contacts if object_type is EntityType.CONTACT else self.account.tasks

    def update(
        self, object_type: EntityType, item_id: str, change_key: str, changes: Mapping[str, object], *,
        send_invitations: bool = False,
    ) -> str:  # fmt: skip
        [item] = self.session.call(lambda: list(self.account.fetch([(item_id, change_key or None)])), "GetItem")
        if isinstance(item, Exception):
            raise MessageGone(f"the {object_type.name.lower()} item is gone from Exchange: {item}")
        names = act_items.set_fields(item, changes)
        if names:
            self.session.call(lambda: _save(item, names, send=send_invitations), "UpdateItem")
        return str(item.changekey)

    def delete(self, object_type: EntityType, item_id: str, *, send_cancellations: bool = False) -> None:
        """A hard delete: for a meeting the mailbox organizes, with ``send_cancellations`` Exchange sends the
        attendees a cancellation (and keeps a copy in Sent Items)."""
        mode = SEND_TO_ALL_AND_SAVE_COPY if send_cancellations else SEND_TO_NONE

        def delete() -> None:
            for result in self.account.bulk_delete(ids=[(item_id, None)], send_meeting_cancellations=mode):
                if isinstance(result, Exception) and "ErrorItemNotFound" not in type(result).__name__:
                    raise result

        self.session.call(delete, "DeleteItem")


def _save(item: Item, names: list[str] | None = None, *, send: bool = False) -> None:
    """Meeting messages go to every attendee (removed ones get a cancellation) with a copy in Sent Items, or to
    nobody: the cycle decided which (R-ACT-7)."""
    if isinstance(item, CalendarItem):
        item.save(update_fields=names, send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY if send else SEND_TO_NONE)
    else:
        item.save(update_fields=names)
