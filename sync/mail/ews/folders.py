"""One Exchange folder read with SyncFolderItems, one page at a time, and fetched with batched GetItem.

Sync state machine of a folder (the state is the folder's watermark):

    state S0 -> SyncFolderItems(S0) -> page 1 (changes, state S1) -> ... -> page n (Sn, IncludesLastItemInRange)

exchangelib's ``sync_items`` only hands out the final state once every page is read, so a timeout in the
middle would lose all progress. We drive the pages ourselves: the last new message of page k carries
Sk, and the worker checkpoints the watermark as soon as that message is stored. A page without new
messages hands its state to the last message listed before it. A crash therefore replays at most one
page, and the replayed messages end as ``AlreadyProcessed`` (the email row is the claim).

Creates are new messages. Updates are looked at again only when they carry a category that tracks
(R-IN-7); deletions and read-flag changes are ignored. An invalid sync state (ErrorInvalidSyncStateData)
restarts the folder from scratch with every item marked ``revisit``, so items tracked already are
skipped without being downloaded.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from exchangelib import Message
from exchangelib.errors import ErrorInvalidSyncStateData, ErrorItemNotFound, ErrorServerBusy
from exchangelib.fields import FieldPath
from exchangelib.items import ID_ONLY
from exchangelib.items.calendar_item import BaseMeetingItem
from exchangelib.properties import FolderId
from exchangelib.services import SyncFolderItems

from sync.mail.errors import MessageGone
from sync.mail.ews.errors import translate
from sync.mail.port import FolderContext, RemoteMessage
from sync.model.mailbox import FolderWatermark

if TYPE_CHECKING:
    from sync.mail.ews.session import EwsSession

PAGE_SIZE = 100  # changes per SyncFolderItems page by default (SYNC_RETRIEVAL_BATCH_SIZE): the checkpoint granularity
FETCH_BATCH = 10  # messages per GetItem: one call for ten downloads
FETCH_BATCH_BYTES = 8 * 1024 * 1024  # ... unless they are large: a batch is held in memory
LISTED_FIELDS = ("subject", "datetime_received", "size", "categories", "message_id")
KEY_SEPARATOR = "|"  # a message's key is "item id|change key" (neither contains it: both are base64)
MESSAGE_TYPES = (Message, BaseMeetingItem)  # meeting requests, responses and cancellations are email too


def _listed_fields() -> set[Any]:
    return {FieldPath(field=Message.get_field_by_fieldname(name)) for name in LISTED_FIELDS}


class EwsFolderReader:
    def __init__(
        self, session: EwsSession, folder: FolderId, context: FolderContext, *, limit: int,
        revisit_categories: frozenset[str] = frozenset(), page_size: int = PAGE_SIZE,
    ) -> None:  # fmt: skip
        self._session = session
        self._page_size = page_size
        self._folder = folder
        self._context = context
        self._limit = limit
        self._revisit_categories = revisit_categories
        self._listed: list[RemoteMessage] = []
        self._last_state: str | None = None
        self._fetched: dict[str, bytes | BaseException] = {}

    @property
    def context(self) -> FolderContext:
        return self._context

    # --- listing ------------------------------------------------------------------------------------
    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        state, resync = watermark.sync_state, False
        listed: list[RemoteMessage] = []
        while True:
            try:
                changes, page_state, last = self._page(state)
            except ErrorInvalidSyncStateData:
                if state is None:
                    raise
                state, resync, listed = None, True, []
                continue
            page = [m for m in (self._remote(kind, item, resync) for kind, item in changes) if m is not None]
            if page:
                page[-1] = dataclasses.replace(page[-1], sync_state=page_state)
                listed += page
            elif listed:
                listed[-1] = dataclasses.replace(listed[-1], sync_state=page_state)
            self._last_state = page_state
            if last or page_state == state or len(listed) >= self._limit:
                break
            state = page_state
        self._listed = listed
        return listed

    def _page(self, state: str | None) -> tuple[list[tuple[str, Any]], str | None, bool]:
        service = SyncFolderItems(account=self._session.account)

        def call() -> list[tuple[str, Any]]:
            changes = service.call(
                folder=self._folder, shape=ID_ONLY, additional_fields=_listed_fields(), sync_state=state,
                ignore=None, max_changes_returned=self._page_size, sync_scope=None,
            )  # fmt: skip
            return list(changes)

        changes = self._session.call(call, "SyncFolderItems", passthrough=(ErrorInvalidSyncStateData,))
        return changes, service.sync_state, bool(service.includes_last_item_in_range)

    def _remote(self, kind: str, item: Any, resync: bool) -> RemoteMessage | None:
        if kind not in (SyncFolderItems.CREATE, SyncFolderItems.UPDATE) or not isinstance(item, MESSAGE_TYPES):
            return None
        categories = tuple(item.categories or ())
        if kind == SyncFolderItems.UPDATE and not self._revisit_categories.intersection(categories):
            return None  # a read flag, a flag, a category of the user's own: nothing for the CRM
        return RemoteMessage(
            key=f"{item.id}{KEY_SEPARATOR}{item.changekey}",
            size=int(item.size or 0),
            received_on=_utc(item.datetime_received),
            message_id=getattr(item, "message_id", None),
            categories=categories,
            revisit=resync or kind == SyncFolderItems.UPDATE,
        )

    # --- fetching -----------------------------------------------------------------------------------
    def fetch(self, message: RemoteMessage) -> bytes:
        if message.key not in self._fetched:
            self._fetch_batch(message)
        found = self._fetched.pop(message.key)
        if isinstance(found, BaseException):
            raise found
        return found

    def _fetch_batch(self, first: RemoteMessage) -> None:
        """``first`` and the next listed messages not fetched yet, within the batch limits, in one GetItem."""
        start = next((n for n, m in enumerate(self._listed) if m.key == first.key), len(self._listed))
        batch, total = [first], first.size
        for message in self._listed[start + 1 :]:
            if len(batch) >= FETCH_BATCH or total + message.size > FETCH_BATCH_BYTES:
                break
            if message.key not in self._fetched and not message.revisit:
                batch.append(message)
                total += message.size
        ids = [tuple(m.key.split(KEY_SEPARATOR, 1)) for m in batch]

        def call() -> list[Any]:
            return list(self._session.account.fetch(ids=ids, only_fields=["mime_content"]))

        results = self._session.call(call, "GetItem")
        for message, result in zip(batch, results, strict=False):
            self._fetched[message.key] = _mime(result)

    # --- watermark ----------------------------------------------------------------------------------
    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        received = [d for d in (watermark.last_received_on, message.received_on) if d is not None]
        update: dict[str, object] = {"last_received_on": max(received) if received else None}
        if message.sync_state is not None:
            update["sync_state"] = message.sync_state
        return watermark.model_copy(update=update)

    def complete(self, watermark: FolderWatermark) -> FolderWatermark:
        if self._last_state is None or self._last_state == watermark.sync_state:
            return watermark
        return watermark.model_copy(update={"sync_state": self._last_state})

    def delete(self, messages: list[RemoteMessage]) -> None:
        """Move to Deleted Items (forward and queue mailboxes that delete after processing, R-FWD-4)."""
        ids = [tuple(m.key.split(KEY_SEPARATOR, 1)) for m in messages]
        if ids:
            account = self._session.account
            self._session.call(
                lambda: list(account.bulk_delete(ids=ids, delete_type="MoveToDeletedItems")), "DeleteItem"
            )


def _utc(moment: datetime | None) -> datetime | None:
    """A plain UTC datetime (exchangelib's EWSDateTime refuses the standard library's time zones)."""
    return None if moment is None else datetime.fromtimestamp(moment.timestamp(), tz=UTC)


def _mime(result: Any) -> bytes | BaseException:
    """One GetItem result: the MIME bytes, or the per-item error to raise when that message is asked for."""
    if isinstance(result, ErrorItemNotFound):
        return MessageGone(f"GetItem: {result}")
    if isinstance(result, ErrorServerBusy):
        return translate(result, what="GetItem")
    if isinstance(result, BaseException):
        return translate(result, what="GetItem")
    content = getattr(result, "mime_content", None)
    if not content:
        return MessageGone("GetItem: the item has no MIME content")
    return content if isinstance(content, bytes) else str(content).encode("utf-8")
