"""One mail folder read with Graph's message delta, one page at a time, the link checkpointed per page.

Delta state machine of a folder (the watermark's ``sync_state`` holds the link to ask next):

    no link -> GET .../mailFolders/{folder}/messages/delta -> page (nextLink) -> ... -> last page (deltaLink)
    deltaLink -> the changes since -> ... -> a new deltaLink

The last listed message of a page carries the page's link, so the worker checkpoints it as soon as that
message is stored and a crash replays at most one page (the replay ends as ``AlreadyProcessed``). An
expired link (410, ``syncStateNotFound``) restarts the folder from scratch; the watermark's received date
still decides what is new, and candidates are marked ``revisit`` so messages tracked already are skipped
with one Table read instead of a download.

Graph's delta does not tell a new message from a changed one. In the Inbox and Sent Items a message is
new when it was received after the watermark's date as it stood when the round began (``round_floor``:
a round's pages come in no particular date order, so the date advanced by the round itself cannot be
the test); moving an old message back into the Inbox does not make it new (R-IN-2); an older one is
looked at again only when it carries a category that tracks (R-IN-7).
In a tracked folder every message that shows up is a candidate (a message moved in is tracked, R-FLT-7),
marked ``revisit`` so messages tracked already cost one Table read.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sync.mail.errors import MailServerError, MessageGone
from sync.mail.graph.delta_links import is_delta_link
from sync.mail.graph.errors import DeltaExpired
from sync.mail.port import FolderContext, FolderRole, RemoteMessage
from sync.model.mailbox import FolderWatermark

if TYPE_CHECKING:
    from sync.mail.graph.session import GraphSession

PAGE_SIZE = 100  # messages per delta page by default (SYNC_RETRIEVAL_BATCH_SIZE): the checkpoint granularity
LISTED = "id,internetMessageId,receivedDateTime,categories,subject"
NOT_FOUND_CODES = ("ErrorItemNotFound", "ResourceNotFound", "ItemNotFound")
NO_FLOOR = datetime(1601, 1, 2, tzinfo=UTC)  # a round where everything is new (the first); Table's dates start 1601


class GraphFolderReader:
    def __init__(
        self, session: GraphSession, folder: str, context: FolderContext, *, limit: int,
        revisit_categories: frozenset[str] = frozenset(), page_size: int = PAGE_SIZE,
    ) -> None:  # fmt: skip
        self._session = session
        self._page_size = page_size
        self._folder = folder
        self._context = context
        self._limit = limit
        self._revisit_categories = revisit_categories
        self._last_state: str | None = None
        self._floor: datetime | None = None  # what "received after" means for this round
        self._round_ends: set[str] = set()  # the page states that are deltaLinks (a round's end)

    @property
    def context(self) -> FolderContext:
        return self._context

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        link, resync = watermark.sync_state, False
        if link is not None and not is_delta_link(link):  # another API's state (EWS): a new round, as on expiry
            link, resync = None, True
        if watermark.round_floor is None:  # a round begins: what was received up to now is not new
            self._floor = watermark.last_received_on
        else:  # a round goes on where the last cycle left it
            self._floor = None if watermark.round_floor == NO_FLOOR else watermark.round_floor
        listed: list[RemoteMessage] = []
        while True:
            try:
                page = self._page(link)
            except DeltaExpired:
                if link is None:
                    raise
                link, resync, listed = None, True, []
                continue
            page_state = page.get("@odata.nextLink") or page.get("@odata.deltaLink")
            if page.get("@odata.deltaLink"):
                self._round_ends.add(str(page["@odata.deltaLink"]))
            found = [self._remote(item, resync) for item in page.get("value", [])]
            messages = [m for m in found if m is not None]
            if messages:
                messages[-1] = dataclasses.replace(messages[-1], sync_state=page_state)
                listed += messages
            elif listed:
                listed[-1] = dataclasses.replace(listed[-1], sync_state=page_state)
            self._last_state = page_state
            if "@odata.deltaLink" in page or not page_state or len(listed) >= self._limit:
                return listed
            link = page_state

    def _page(self, link: str | None) -> dict[str, Any]:
        client = self._session.client
        headers = {"Prefer": f"odata.maxpagesize={self._page_size}"}
        if link is not None:
            return self._session.call(lambda: client.get(link, None, headers), "messages.delta")
        path = f"{self._session.user}/mailFolders/{quote(self._folder)}/messages/delta"
        return self._session.call(lambda: client.get(path, {"$select": LISTED}, headers), "messages.delta")

    def _remote(self, item: dict[str, Any], resync: bool) -> RemoteMessage | None:
        if "@removed" in item or not item.get("id"):
            return None
        received = _when(item.get("receivedDateTime"))
        categories = tuple(str(c) for c in item.get("categories") or ())
        tracked_folder = self._context.role is FolderRole.TRACKED_FOLDER
        last = self._floor
        new = last is None or received is None or received > last
        same_second = last is not None and received == last  # received times are to the second: maybe not seen
        revisit_category = bool(self._revisit_categories.intersection(categories))
        if not (new or same_second or tracked_folder or revisit_category):
            return None  # an older message that changed (read, flagged, moved back in): nothing for the CRM
        return RemoteMessage(
            key=str(item["id"]),
            size=0,  # Graph lists no size; the parser's guards bound what a download may hold
            received_on=received,
            message_id=item.get("internetMessageId"),
            categories=categories,
            revisit=resync or tracked_folder or not new,
        )

    def fetch(self, message: RemoteMessage) -> bytes:
        client = self._session.client
        path = f"{self._session.user}/messages/{quote(message.key, safe='')}/$value"
        try:
            return self._session.call(lambda: client.get_bytes(path), "message.value")
        except MailServerError as exc:
            if any(code in exc.code for code in NOT_FOUND_CODES):
                raise MessageGone(str(exc)) from None
            raise

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        received = [d for d in (watermark.last_received_on, message.received_on) if d is not None]
        update: dict[str, object] = {"last_received_on": max(received) if received else None}
        if message.sync_state is not None:
            update.update(self._state(message.sync_state))
        return watermark.model_copy(update=update)

    def complete(self, watermark: FolderWatermark) -> FolderWatermark:
        if self._last_state is None or self._last_state == watermark.sync_state:
            return watermark
        return watermark.model_copy(update=self._state(self._last_state))

    def _state(self, link: str) -> dict[str, object]:
        """The link to go on with, and the round's floor while the round is not over."""
        return {"sync_state": link, "round_floor": None if link in self._round_ends else (self._floor or NO_FLOOR)}

    def delete(self, messages: list[RemoteMessage]) -> None:
        """Delete (to Deleted Items) what forward and queue mailboxes processed (R-FWD-4), in batches."""
        self._session.batch_each([("DELETE", f"/messages/{quote(m.key, safe='')}", None) for m in messages], "delete")


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
