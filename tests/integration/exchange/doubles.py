"""The EWS and Graph test servers behind one small interface, so every Exchange scenario runs through both.

Each adapter speaks its server's test API; a scenario asks for what a user or an administrator sees
(a message in a folder, its categories, what left the mailbox) and for the few server operations it
counts or breaks (listing, downloading, sending, reading the folder tree).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import getaddresses
from enum import StrEnum
from types import ModuleType
from typing import Protocol

from sync.mail.ews import folders as ews_folders
from sync.mail.ews.sending import EwsOutbox
from sync.mail.graph import folders as graph_folders
from sync.mail.graph.sending import GraphOutbox
from tests.ews.server import EwsServer
from tests.graph.server import GraphServer


class Op(StrEnum):
    LIST = "list"  # SyncFolderItems / messages delta
    FETCH = "fetch"  # GetItem / $value
    SEND = "send"  # CreateItem / sendMail
    HIERARCHY = "hierarchy"  # SyncFolderHierarchy / mailFolders delta


@dataclass(frozen=True)
class Sent:
    recipients: frozenset[str]
    mime: bytes


class ExchangeDouble(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def reader_module(self) -> ModuleType:
        """Where the connector's PAGE_SIZE lives."""
        ...

    @property
    def outbox_class(self) -> type[EwsOutbox] | type[GraphOutbox]: ...

    def deliver(self, address: str, mime: bytes, folder: str = "inbox", categories: Iterable[str] = ()) -> str: ...
    def create_folder(self, address: str, parent: str, name: str) -> str: ...
    def rename_folder(self, address: str, folder: str, name: str) -> None: ...
    def move_folder(self, address: str, folder: str, parent: str) -> None: ...
    def categories(self, address: str, folder: str, item_id: str) -> tuple[str, ...]: ...
    def message_ids(self, address: str, folder: str) -> list[str | None]: ...
    def item_ids(self, address: str, folder: str) -> list[str]: ...
    def folder_named(self, address: str, name: str) -> str | None: ...
    def sent(self) -> list[Sent]: ...
    def count(self, op: Op) -> int: ...
    def total_calls(self) -> int: ...
    def reset_calls(self) -> None: ...
    def throttle_next_listing(self, seconds: float) -> None: ...
    def refuse_next_send(self) -> None: ...
    def drop_next_send(self) -> None: ...


def _message_id(mime: bytes) -> str | None:
    value = message_from_bytes(mime, policy=policy.default)["Message-ID"]
    return None if value is None else str(value).strip()


def _recipients(mime: bytes) -> frozenset[str]:
    message = message_from_bytes(mime, policy=policy.default)
    values = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return frozenset(address.lower() for _, address in getaddresses(values) if address)


class EwsDouble:
    name = "ews"
    reader_module = ews_folders
    outbox_class = EwsOutbox
    OPS = {Op.LIST: "SyncFolderItems", Op.FETCH: "GetItem", Op.SEND: "CreateItem", Op.HIERARCHY: "SyncFolderHierarchy"}

    def __init__(self, server: EwsServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def deliver(self, address: str, mime: bytes, folder: str = "inbox", categories: Iterable[str] = ()) -> str:
        return self.server.deliver(address, mime, folder, categories=categories)

    def create_folder(self, address: str, parent: str, name: str) -> str:
        return self.server.create_folder(address, parent, name)

    def rename_folder(self, address: str, folder: str, name: str) -> None:
        self.server.rename_folder(address, folder, name)

    def move_folder(self, address: str, folder: str, parent: str) -> None:
        self.server.move_folder(address, folder, parent)

    def categories(self, address: str, folder: str, item_id: str) -> tuple[str, ...]:
        return next(i.categories for i in self.server.items(address, folder) if i.item_id == item_id)

    def message_ids(self, address: str, folder: str) -> list[str | None]:
        return [i.message_id for i in self.server.items(address, folder)]

    def item_ids(self, address: str, folder: str) -> list[str]:
        return [i.item_id for i in self.server.items(address, folder)]

    def folder_named(self, address: str, name: str) -> str | None:
        found = [f for f in self.server.mailbox(address).folders.values() if f.name == name]
        return found[0].folder_id if found else None

    def sent(self) -> list[Sent]:
        return [Sent(frozenset(r.lower() for r in m.recipients), m.mime) for m in self.server.sent_messages]

    def count(self, op: Op) -> int:
        return self.server.calls[self.OPS[op]]

    def total_calls(self) -> int:
        return len(self.server.calls.log)

    def reset_calls(self) -> None:
        self.server.reset_calls()

    def throttle_next_listing(self, seconds: float) -> None:
        self.server.fail_next("SyncFolderItems", busy_back_off_ms=int(seconds * 1000))

    def refuse_next_send(self) -> None:
        self.server.fail_next("CreateItem", http_status=503)

    def drop_next_send(self) -> None:
        self.server.drop_connection_next("CreateItem")


class GraphDouble:
    name = "graph"
    reader_module = graph_folders
    outbox_class = GraphOutbox
    OPS = {Op.LIST: "messages.delta", Op.FETCH: "message.value", Op.SEND: "sendMail", Op.HIERARCHY: "folders.delta"}

    def __init__(self, server: GraphServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.base_url

    def deliver(self, address: str, mime: bytes, folder: str = "inbox", categories: Iterable[str] = ()) -> str:
        return self.server.deliver(address, mime, folder, categories=tuple(categories))

    def create_folder(self, address: str, parent: str, name: str) -> str:
        return self.server.create_folder(address, name, parent)

    def rename_folder(self, address: str, folder: str, name: str) -> None:
        self.server.rename_folder(address, folder, name)

    def move_folder(self, address: str, folder: str, parent: str) -> None:
        self.server.move_folder(address, folder, parent)

    def categories(self, address: str, folder: str, item_id: str) -> tuple[str, ...]:
        return next(m.categories for m in self.server.messages(address, folder) if m.id == item_id)

    def message_ids(self, address: str, folder: str) -> list[str | None]:
        return [_message_id(m.mime) for m in self.server.messages(address, folder)]

    def item_ids(self, address: str, folder: str) -> list[str]:
        return [m.id for m in self.server.messages(address, folder)]

    def folder_named(self, address: str, name: str) -> str | None:
        found = [f for f in self.server.state.folders(address) if f.name == name]
        return found[0].id if found else None

    def sent(self) -> list[Sent]:
        return [Sent(_recipients(m.mime), m.mime) for m in self.server.sent_messages()]

    def count(self, op: Op) -> int:
        return self.server.calls[self.OPS[op]]

    def total_calls(self) -> int:
        return sum(self.server.calls.values())

    def reset_calls(self) -> None:
        self.server.reset_calls()

    def throttle_next_listing(self, seconds: float) -> None:
        self.server.fail_next("messages.delta", 429, retry_after_s=seconds)

    def refuse_next_send(self) -> None:
        self.server.fail_next("sendMail", 503, retry_after_s=1)

    def drop_next_send(self) -> None:
        self.server.drop_connection_next("sendMail")
