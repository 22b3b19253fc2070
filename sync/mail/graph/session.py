"""An open Graph session on one Exchange Online mailbox: its folders for one cycle, marks, throttling.

Requests go through the thin client (``client.py``: at most four in flight per mailbox, typed errors, never
a sleep) and :meth:`GraphSession.call`, which honours 429/503 Retry-After inside the cycle's time budget
(``sync/mail/backoff.py``). Changes to many messages (categories, moves, deletes) go in JSON batches of 20.

The folder hierarchy is watched with a mailFolders delta link stored with the watermarks: a round
without changes costs one request. When something changed, the whole tree is listed once to find which
tracked folders are still under the Inbox (and their names), since a delta does not carry ancestry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from sync.mail.backoff import BackOff
from sync.mail.errors import MailServerError
from sync.mail.folder_plan import HierarchyChanges, plan_folders
from sync.mail.graph import ews_ids
from sync.mail.graph.client import BatchRequest, GraphClient
from sync.mail.graph.delta_links import is_delta_link
from sync.mail.graph.folders import NOT_FOUND_CODES, PAGE_SIZE, GraphFolderReader
from sync.mail.port import (
    FolderContext,
    FolderPlan,
    FolderSync,
    RuleChange,
    ServerMark,
    TrackingRule,
)

T = TypeVar("T")
FOLDER_NOT_FOUND = (*NOT_FOUND_CODES, "ErrorInvalidIdMalformed")
Call = tuple[str, str, Mapping[str, Any] | None]  # method, path below the user, body
UNDELIVERABLE_FOLDER = "Undeliverable"


class GraphSession:
    def __init__(
        self, client: GraphClient, address: str, *, deadline: float | None, limit: int, page_size: int = PAGE_SIZE
    ) -> None:
        self.client = client
        self.address = address
        self.user = f"/users/{quote(address, safe='@')}"
        self._backoff = BackOff(deadline)
        self._limit = limit
        self._page_size = page_size  # messages per delta page (R-IN-10)

    def call(self, request: Callable[[], T], what: str) -> T:
        return self._backoff.run(request, what)

    def batch_each(self, calls: Sequence[Call], what: str) -> list[MailServerError]:
        """(method, path below the user, body) in JSON batches; the per-request failures, as values."""
        if not calls:
            return []
        requests = [BatchRequest(method, f"{self.user}{path}", body) for method, path, body in calls]
        answers = self.call(lambda: self.client.batch(requests), what)
        return [error for error in (answer.error() for answer in answers) if error is not None]

    # --- one cycle's folders ------------------------------------------------------------------------
    def folders(self, plan: FolderPlan) -> FolderSync:
        carried: tuple[RuleChange, ...] = ()
        if plan.rules and plan.hierarchy_state is not None and not is_delta_link(plan.hierarchy_state):
            plan, carried = self._carry_over_rules(plan)

        def reader(folder: str, context: FolderContext) -> GraphFolderReader:
            return GraphFolderReader(
                self, folder, context, limit=self._limit, revisit_categories=plan.revisit_categories,
                page_size=self._page_size,
            )  # fmt: skip

        synced = plan_folders(plan, reader, self._hierarchy)
        return dataclasses.replace(synced, rule_changes=carried + synced.rule_changes) if carried else synced

    def _carry_over_rules(self, plan: FolderPlan) -> tuple[FolderPlan, tuple[RuleChange, ...]]:
        """The hierarchy state is one EWS left (the profile moved from EWS to Graph): the rules name their folders
        by EWS ids. Each moves to the URL-safe spelling Graph has (``ews_ids.py``); one Graph finds under neither
        is left, and the folder listing that follows stops it as no longer under the Inbox (R-FLT-12)."""
        rules: list[TrackingRule] = []
        carried: list[RuleChange] = []
        for rule in plan.rules:
            own = self._own_folder_id(rule.folder_id)
            rules.append(rule if own is None else dataclasses.replace(rule, folder_id=own))
            if own is not None:
                carried.append(RuleChange(rule.rule_id, folder_id=own))
        return dataclasses.replace(plan, rules=tuple(rules)), tuple(carried)

    def _own_folder_id(self, ews_id: str) -> str | None:
        """The spelling of ``ews_id`` Graph has a folder by (a GET of its id per spelling, the second only when the
        first is not found), else None; an id with neither ``/`` nor ``+`` is its own and costs no request."""
        if not ews_ids.needs_spelling(ews_id):
            return None
        for spelling in ews_ids.rest_spellings(ews_id):
            path = f"{self.user}/mailFolders/{quote(spelling, safe='')}"
            try:
                self.call(partial(self.client.get, path, {"$select": "id"}), "folder.get")
            except MailServerError as exc:
                if not any(code in exc.code for code in FOLDER_NOT_FOUND):
                    raise
                continue
            return spelling
        return None

    def _hierarchy(self, link: str | None) -> tuple[HierarchyChanges, str | None]:
        """No change since ``link``: nothing to do. Otherwise the folders under the Inbox, all of them."""
        if is_delta_link(link):
            changed, new_link = self._folder_round(link)
            if not changed:
                return HierarchyChanges({}, frozenset(), complete=False), new_link
        folders, new_link = self._folder_round(None)
        inbox = self.call(lambda: self.client.get(f"{self.user}/mailFolders/inbox"), "folder.get")
        return HierarchyChanges(_under(str(inbox["id"]), folders), frozenset(), complete=True), new_link

    def _folder_round(self, link: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One mailFolders delta round: the folders it returns and the deltaLink for the next one."""
        found: list[dict[str, Any]] = []
        following: str | None = link or f"{self.user}/mailFolders/delta"
        while following is not None:
            page = self._get(following, "folders.delta")
            found += [f for f in page.get("value", []) if "@removed" not in f or link is not None]
            if not page.get("@odata.nextLink"):
                return found, page.get("@odata.deltaLink")
            following = str(page["@odata.nextLink"])
        return found, None

    def _get(self, path: str, what: str) -> dict[str, Any]:
        return self.call(lambda: self.client.get(path), what)

    # --- after tracking -----------------------------------------------------------------------------
    def mark(self, marks: list[ServerMark]) -> None:
        """Categories, then moves, each in JSON batches; failures of single messages are left as they are."""
        updates = [
            ("PATCH", _message(m), {"categories": [*m.message.categories, m.category]}) for m in marks if m.category
        ]
        self.batch_each(updates, "message.update")
        moving = [m for m in marks if m.move_to_undeliverable]
        if moving:
            target = self._undeliverable_folder()
            self.batch_each(
                [("POST", f"{_message(m)}/move", {"destinationId": target}) for m in moving], "message.move"
            )

    def _undeliverable_folder(self) -> str:
        """Inbox/Undeliverable, created the first time it is needed (R-REC-9)."""
        path = f"{self.user}/mailFolders/inbox/childFolders"
        children = self.call(lambda: self.client.get(path), "folder.children").get("value", [])
        found = next((c for c in children if str(c.get("displayName", "")).casefold() == "undeliverable"), None)
        if found is None:
            found = self.call(lambda: self.client.post(path, {"displayName": UNDELIVERABLE_FOLDER}), "folder.create")
        assert found is not None
        return str(found["id"])

    def probe(self) -> None:
        """The Inbox and the folder tree: what synchronization will need (Test & Enable)."""
        self.call(lambda: self.client.get(f"{self.user}/mailFolders/inbox"), "folder.get")
        self._folder_round(None)

    def close(self) -> None:
        """Nothing to close: the client's connections are shared by the process."""


def _message(mark: ServerMark) -> str:
    return f"/messages/{quote(mark.message.key, safe='')}"


def _under(inbox_id: str, folders: list[dict[str, Any]]) -> dict[str, str]:
    """Folder id -> name of every folder below the Inbox, at any depth."""
    parents = {str(f["id"]): str(f.get("parentFolderId") or "") for f in folders}
    names = {str(f["id"]): str(f.get("displayName") or "") for f in folders}
    below: dict[str, str] = {}
    for folder_id, parent in parents.items():
        seen, current = set(), parent
        while current and current not in seen:
            if current == inbox_id:
                below[folder_id] = names[folder_id]
                break
            seen.add(current)
            current = parents.get(current, "")
    return below
