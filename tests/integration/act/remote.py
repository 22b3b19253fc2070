"""The user's side of an ACT test, whichever API reaches Exchange: what Outlook shows and what the user does.

``EwsRemote`` drives the EWS test server (Exchange Server, or Exchange Online through EWS) and
``GraphRemote`` the Graph test server (Exchange Online); the ACT tests speak to either through
:class:`ActRemote`, so each scenario runs against both unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tests.ews.server import EwsServer
from tests.ews.values import Body
from tests.graph.server import GraphServer

ALICE = "alice@example.test"
GRAPH_KINDS = {"calendar": "event", "contacts": "contact", "tasks": "todoTask"}
GRAPH_CREATE = {"calendar": "event.create", "contacts": "contact.create", "tasks": "task.create"}
GRAPH_UPDATE = ("event.update", "contact.update", "task.update")


@dataclass(frozen=True)
class RemoteItem:
    item_id: str
    subject: str  # a contact's surname
    stamp: str | None  # the record it was created for
    job_title: str | None = None


class ActRemote(Protocol):
    name: str

    def items(self, folder: str) -> list[RemoteItem]: ...
    def edit(self, item_id: str, **changes: str) -> None:
        """As the user in Outlook: ``subject``, ``location``, ``body``, ``job_title`` or ``completed``."""
        ...

    def delete(self, item_id: str) -> None: ...
    def add_event(self, subject: str, start: datetime, end: datetime, categories: Iterable[str] = ()) -> str: ...
    def add_contact(self, surname: str, categories: Iterable[str] = ()) -> str: ...
    def fail_next_create(self, folder: str, status: int, count: int) -> None: ...
    def reset_calls(self) -> None: ...
    def creates(self) -> int: ...
    def updates(self) -> int: ...


class EwsRemote:
    name = "ews"

    def __init__(self, server: EwsServer) -> None:
        self.server = server

    def items(self, folder: str) -> list[RemoteItem]:
        found = []
        for item in self.server.items(ALICE, folder):
            subject = item.value("surname", str) if folder == "contacts" else item.subject
            stamps = list((item.extended_properties or {}).values())
            job = item.value("job_title", str) if folder == "contacts" else None
            found.append(RemoteItem(item.item_id, subject or "", str(stamps[0]) if stamps else None, job))
        return list(reversed(found))

    def edit(self, item_id: str, **changes: str) -> None:
        fields: dict[str, Any] = {k: v for k, v in changes.items() if k in ("subject", "location", "job_title")}
        if "body" in changes:
            fields["body"] = Body(changes["body"])
        if "completed" in changes:
            fields["status"] = "Completed"
        self.server.update_item_fields(ALICE, item_id, **fields)

    def delete(self, item_id: str) -> None:
        self.server.delete_item(ALICE, item_id)

    def add_event(self, subject: str, start: datetime, end: datetime, categories: Iterable[str] = ()) -> str:
        return self.server.create_calendar_item(
            ALICE, subject=subject, start=start, end=end, categories=list(categories)
        )

    def add_contact(self, surname: str, categories: Iterable[str] = ()) -> str:
        return self.server.create_contact(ALICE, surname=surname, categories=list(categories))

    def fail_next_create(self, folder: str, status: int, count: int) -> None:
        self.server.fail_next("CreateItem", http_status=status, count=count)

    def reset_calls(self) -> None:
        self.server.reset_calls()

    def creates(self) -> int:
        return int(self.server.calls["CreateItem"])

    def updates(self) -> int:
        return int(self.server.calls["UpdateItem"])


class GraphRemote:
    name = "graph"

    def __init__(self, server: GraphServer) -> None:
        self.server = server

    def items(self, folder: str) -> list[RemoteItem]:
        found = []
        for item in self.server.pim_items(ALICE, GRAPH_KINDS[folder]):
            data = item.data
            subject = data.get("surname") if folder == "contacts" else data.get("title") or data.get("subject")
            stamp = next(iter(item.extended.values()), None)
            if folder == "tasks":
                stamp = next((r.get("externalId") for r in item.linked), None)
            found.append(RemoteItem(item.id, str(subject or ""), stamp, data.get("jobTitle")))
        return found

    def edit(self, item_id: str, **changes: str) -> None:
        props: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "location":
                props["location"] = {"displayName": value}
            elif name == "body":
                props["body"] = {"contentType": "text", "content": value}
            elif name == "job_title":
                props["jobTitle"] = value
            elif name == "completed":
                props["status"] = "completed"
            elif name == "subject" and self._is_task(item_id):
                props["title"] = value
            else:
                props[name] = value
        self.server.edit(ALICE, item_id, **props)

    def _is_task(self, item_id: str) -> bool:
        return any(i.id == item_id for i in self.server.pim_items(ALICE, "todoTask"))

    def delete(self, item_id: str) -> None:
        self.server.remove(ALICE, item_id)

    def add_event(self, subject: str, start: datetime, end: datetime, categories: Iterable[str] = ()) -> str:
        return self.server.add_event(ALICE, subject, start, end, categories=list(categories))

    def add_contact(self, surname: str, categories: Iterable[str] = ()) -> str:
        return self.server.add_contact(ALICE, categories=list(categories), surname=surname)

    def fail_next_create(self, folder: str, status: int, count: int) -> None:
        self.server.fail_next(GRAPH_CREATE[folder], status, retry_after_s=None, count=count)

    def reset_calls(self) -> None:
        self.server.reset_calls()

    def creates(self) -> int:
        return sum(self.server.calls[route] for route in GRAPH_CREATE.values())

    def updates(self) -> int:
        return sum(self.server.calls[route] for route in GRAPH_UPDATE)
