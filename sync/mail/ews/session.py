"""An open EWS session on one mailbox: its folders for one cycle, marks after tracking, throttling.

Every EWS request goes through :meth:`EwsSession.call`, which (1) bounds the requests in flight for the
mailbox (``SYNC_EWS_MAX_CONCURRENT_CALLS``; the prefetch thread and the worker share it), (2) turns
exchangelib's exceptions into our typed errors, and (3) honours ErrorServerBusy: it waits the
BackOffMilliseconds the server asked for when that ends before the cycle's deadline, and otherwise
raises :class:`~sync.mail.errors.ServerBusy` so the worker comes back later instead of sleeping past
its time budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from exchangelib import Account, Folder, Message
from exchangelib.fields import FieldPath
from exchangelib.properties import DistinguishedFolderId, FolderId
from exchangelib.properties import Mailbox as EwsMailbox
from exchangelib.services import SyncFolderHierarchy

from sync.mail.backoff import BackOff
from sync.mail.ews.errors import translate
from sync.mail.ews.folders import KEY_SEPARATOR, PAGE_SIZE, EwsFolderReader
from sync.mail.folder_plan import HierarchyChanges, plan_folders
from sync.mail.port import (
    FolderContext,
    FolderPlan,
    FolderRole,
    FolderSync,
    ServerMark,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
UNDELIVERABLE_FOLDER = "Undeliverable"


class EwsSession:
    def __init__(
        self, account: Account, *, max_concurrent_calls: int, deadline: float | None, limit: int,
        page_size: int = PAGE_SIZE, monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self.account = account
        self._slots = threading.BoundedSemaphore(max_concurrent_calls)
        self._backoff = BackOff(deadline, monotonic=monotonic, sleep=sleep)
        self._limit = limit
        self._page_size = page_size  # SyncFolderItems changes per request (R-IN-10)
        self.calls = 0  # EWS requests made, for benchmarks and logs

    # --- every request ------------------------------------------------------------------------------
    def call(self, request: Callable[[], T], what: str, *, passthrough: tuple[type[BaseException], ...] = ()) -> T:
        def gated() -> T:
            with self._slots:
                self.calls += 1
                return request()

        return self._backoff.run(gated, what, lambda exc, name: translate(exc, what=name), passthrough)

    # --- one cycle's folders ------------------------------------------------------------------------
    def folders(self, plan: FolderPlan) -> FolderSync:
        def reader(folder: str, context: FolderContext) -> EwsFolderReader:
            tracked = context.role is FolderRole.TRACKED_FOLDER
            ref = FolderId(id=folder) if tracked else self._distinguished(folder)
            return EwsFolderReader(
                self, ref, context, limit=self._limit, revisit_categories=plan.revisit_categories,
                page_size=self._page_size,
            )  # fmt: skip

        return plan_folders(plan, reader, self._hierarchy)

    def _distinguished(self, name: str) -> DistinguishedFolderId:
        """A well-known folder by name: no GetFolder round trip before the first real request."""
        return DistinguishedFolderId(id=name, mailbox=EwsMailbox(email_address=self.account.primary_smtp_address))

    def _hierarchy(self, state: str | None) -> tuple[HierarchyChanges, str | None]:
        """The Inbox's subfolder changes since ``state`` (all its subfolders when None)."""
        inbox = self.call(lambda: self.account.inbox, "GetFolder")
        named: dict[str, str] = {}
        removed: set[str] = set()
        current = state
        while True:
            service = SyncFolderHierarchy(account=self.account)
            fields = _folder_fields(inbox)
            changes = self.call(_hierarchy_page(service, inbox, fields, current), "SyncFolderHierarchy")
            for kind, folder in changes:
                if kind == SyncFolderHierarchy.DELETE:
                    removed.add(folder.id)
                    named.pop(folder.id, None)
                else:
                    named[folder.id] = folder.name or ""
                    removed.discard(folder.id)
            done = service.includes_last_item_in_range or service.sync_state == current
            current = service.sync_state
            if done:
                break
        return HierarchyChanges(named, frozenset(removed), complete=state is None), current

    # --- after tracking -----------------------------------------------------------------------------
    def mark(self, marks: list[ServerMark]) -> None:
        """Categories in one UpdateItem batch, moves in one MoveItem batch; per-item failures are logged."""
        categorized = [m for m in marks if m.category]
        if categorized:
            items = [(self._with_category(m), ["categories"]) for m in categorized]
            results = self.call(lambda: list(self.account.bulk_update(items=items)), "UpdateItem")
            _log_failures("categorize", results)
        moving = [m for m in marks if m.move_to_undeliverable]
        if moving:
            target = self._undeliverable_folder()
            ids = [_id(m.message.key) for m in moving]
            results = self.call(lambda: list(self.account.bulk_move(ids=ids, to_folder=target)), "MoveItem")
            _log_failures("move", results)

    def _with_category(self, mark: ServerMark) -> Message:
        item_id, change_key = _id(mark.message.key)
        categories = [*mark.message.categories, mark.category]
        return Message(account=self.account, id=item_id, changekey=change_key, categories=categories)

    def _undeliverable_folder(self) -> Folder:
        """Inbox/Undeliverable, created the first time it is needed (R-REC-9)."""
        inbox = self.call(lambda: self.account.inbox, "GetFolder")
        children = self.call(lambda: list(inbox.children), "FindFolder")
        found = next((f for f in children if f.name == UNDELIVERABLE_FOLDER), None)
        if found is not None:
            return found
        folder = Folder(parent=inbox, name=UNDELIVERABLE_FOLDER)
        self.call(folder.save, "CreateFolder")
        return folder

    def probe(self) -> None:
        """GetFolder on the Inbox and one SyncFolderHierarchy page: what the synchronization will need (R-TE-5)."""
        self._hierarchy(None)

    def close(self) -> None:
        """Nothing to close: exchangelib keeps the HTTP connections pooled for the next cycle."""


def _hierarchy_page(
    service: SyncFolderHierarchy, inbox: Any, fields: set[Any], state: str | None
) -> Callable[[], list[tuple[str, Any]]]:
    def page() -> list[tuple[str, Any]]:
        return list(service.call(folder=inbox, shape="IdOnly", additional_fields=fields, sync_state=state))

    return page


def _id(key: str) -> tuple[str, str]:
    item_id, _, change_key = key.partition(KEY_SEPARATOR)
    return item_id, change_key


def _folder_fields(folder: Any) -> set[Any]:
    """What exchangelib itself asks for when it syncs a hierarchy (it parses folders with them)."""
    return {FieldPath(field=f) for f in folder.supported_fields(version=folder.account.version)}


def _log_failures(what: str, results: list[Any]) -> None:
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        log.warning("%s failed for %d items (first: %s)", what, len(failures), failures[0])
