"""Exchange Online mailboxes as Graph shows them, kept in memory for the Graph test server.

A mailbox has a folder tree (the well-known folders below plus any a test creates) and messages stored as
MIME bytes. Every change to a message appends an entry to the change log of the folder it touched, numbered
by one mailbox-wide sequence; folder changes go to a hierarchy log. A delta link is then a position::

    log entries in (since, until]  ──  last entry per item wins  ──►  one delta round, served page by page

A message leaving a folder (move, delete) logs a removal there. Moving gives the message a new id in the
destination, as Exchange does ("creates a new copy of the message in the destination folder").
``expire_delta_links`` bumps the mailbox's epoch: links carry the epoch they were issued in, and the delta
routes answer an older one with 410.

Pure and thread-safe: one lock guards all mailboxes, and every value handed out is frozen.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from tests.graph.api import ApiError
from tests.graph.mime import Envelope, envelope, with_message_id
from tests.graph.pim_state import PimStore

ROOT = "msgfolderroot"
WELL_KNOWN = {  # well-known name -> display name; Graph accepts the name wherever a folder id goes
    ROOT: "Top of Information Store",
    "inbox": "Inbox",
    "drafts": "Drafts",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
}
ID_PREFIX = "AAMkAD"  # Exchange ids are base64 entry ids and share their first bytes within a mailbox


@dataclass(frozen=True)
class Folder:
    id: str
    name: str
    parent_id: str | None  # None only for msgfolderroot


@dataclass(frozen=True)
class Message:
    id: str
    folder_id: str
    mime: bytes
    envelope: Envelope
    received: datetime.datetime
    modified: datetime.datetime
    change_key: str
    categories: tuple[str, ...] = ()
    is_read: bool = False
    is_draft: bool = False

    @property
    def internet_message_id(self) -> str | None:
        return self.envelope.internet_message_id


@dataclass(frozen=True)
class Change:
    seq: int
    item_id: str
    removed: bool


@dataclass(frozen=True)
class SentMessage:
    """What left a mailbox through sendMail or send: the wire copy, whatever happens to Sent Items."""

    sender: str
    mime: bytes


def collapse(log: Iterable[Change], since: int, until: int) -> list[Change]:
    """The last change of each item within (since, until], in the order those last changes happened."""
    last: dict[str, Change] = {}
    for change in log:
        if since < change.seq <= until:
            last.pop(change.item_id, None)
            last[change.item_id] = change
    return list(last.values())


_serial = itertools.count(1)


def new_id() -> str:
    return ID_PREFIX + base64.urlsafe_b64encode(uuid.uuid4().bytes + next(_serial).to_bytes(4, "big")).decode()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class _Mailbox:
    def __init__(self, address: str) -> None:
        self.address = address
        self.folders: dict[str, Folder] = {}
        self.well_known: dict[str, str] = {}
        self.messages: dict[str, Message] = {}
        self.logs: dict[str, list[Change]] = {}
        self.hierarchy: list[Change] = []
        self.seq = 0
        self.epoch = 0
        self.pim = PimStore(self.tick, new_id)
        for name, display in WELL_KNOWN.items():
            folder = self.add_folder(display, None if name == ROOT else self.well_known[ROOT])
            self.well_known[name] = folder.id

    def tick(self) -> int:
        self.seq += 1
        return self.seq

    def add_folder(self, name: str, parent_id: str | None, folder_id: str | None = None) -> Folder:
        folder = Folder(folder_id or new_id(), name, parent_id)
        self.folders[folder.id] = folder
        self.logs[folder.id] = []
        if parent_id is not None:
            self.hierarchy.append(Change(self.tick(), folder.id, removed=False))
        return folder

    def folder(self, ref: str) -> Folder:
        folder_id = self.well_known.get(ref.lower(), ref)
        if folder_id not in self.folders:
            raise ApiError(404, "ErrorItemNotFound", "The specified folder could not be found in the store.")
        return self.folders[folder_id]

    def message(self, message_id: str) -> Message:
        if message_id not in self.messages:
            raise ApiError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return self.messages[message_id]

    def put(self, message: Message) -> Message:
        stamped = dataclasses.replace(message, modified=_now(), change_key=new_id())
        self.messages[stamped.id] = stamped
        self.logs[stamped.folder_id].append(Change(self.tick(), stamped.id, removed=False))
        return stamped

    def remove(self, message: Message) -> None:
        del self.messages[message.id]
        self.logs[message.folder_id].append(Change(self.tick(), message.id, removed=True))

    def relocate(self, message: Message, folder_id: str) -> Message:
        self.remove(message)
        return self.put(dataclasses.replace(message, id=new_id(), folder_id=folder_id))


class GraphState:
    """Every mailbox of the test tenant; addresses are matched case-insensitively, as Exchange does."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._mailboxes: dict[str, _Mailbox] = {}
        self._sent: list[SentMessage] = []
        self._invitations: list[tuple[str, str, str]] = []  # (mailbox, event id, what attendees were sent)

    def _box(self, address: str) -> _Mailbox:
        box = self._mailboxes.get(address.lower())
        if box is None:
            raise ApiError(404, "ErrorInvalidUser", f"The requested user '{address}' is invalid.")
        return box

    def add_mailbox(self, address: str) -> None:
        with self._lock:
            self._mailboxes.setdefault(address.lower(), _Mailbox(address))

    def folder(self, address: str, ref: str) -> Folder:
        with self._lock:
            return self._box(address).folder(ref)

    @contextlib.contextmanager
    def pim(self, address: str) -> Iterator[PimStore]:
        """The mailbox's calendar, contacts and To Do tasks, with every mailbox locked while the caller works."""
        with self._lock:
            yield self._box(address).pim

    def folders(self, address: str) -> list[Folder]:
        with self._lock:
            return list(self._box(address).folders.values())

    def counts(self, address: str, folder_id: str) -> tuple[int, int, int]:
        """``(childFolderCount, totalItemCount, unreadItemCount)`` of a folder."""
        with self._lock:
            box = self._box(address)
            children = sum(1 for f in box.folders.values() if f.parent_id == folder_id)
            items = [m for m in box.messages.values() if m.folder_id == folder_id]
            return children, len(items), sum(1 for m in items if not m.is_read)

    def message(self, address: str, message_id: str) -> Message:
        with self._lock:
            return self._box(address).message(message_id)

    def messages(self, address: str, folder: str | None = None) -> list[Message]:
        """Newest first, like Graph's default order for a message list."""
        with self._lock:
            box = self._box(address)
            folder_id = box.folder(folder).id if folder is not None else None
            found = [m for m in box.messages.values() if folder_id is None or m.folder_id == folder_id]
        return sorted(found, key=lambda m: m.received, reverse=True)

    def deliver(
        self,
        address: str,
        mime: bytes,
        folder: str = "inbox",
        *,
        categories: Sequence[str] = (),
        received: datetime.datetime | None = None,
        is_read: bool = False,
        is_draft: bool = False,
    ) -> Message:
        with self._lock:
            box = self._box(address)
            moment = received or _now()
            message = Message(
                id=new_id(),
                folder_id=box.folder(folder).id,
                mime=mime,
                envelope=envelope(mime),
                received=moment,
                modified=moment,
                change_key="",
                categories=tuple(categories),
                is_read=is_read,
                is_draft=is_draft,
            )
            return box.put(message)

    def update(
        self, address: str, message_id: str, *, categories: Sequence[str] | None = None, is_read: bool | None = None
    ) -> Message:
        with self._lock:
            box = self._box(address)
            message = box.message(message_id)
            if categories is not None:
                message = dataclasses.replace(message, categories=tuple(categories))
            if is_read is not None:
                message = dataclasses.replace(message, is_read=is_read)
            return box.put(message)

    def move(self, address: str, message_id: str, destination: str) -> Message:
        with self._lock:
            box = self._box(address)
            return box.relocate(box.message(message_id), box.folder(destination).id)

    def delete(self, address: str, message_id: str) -> None:
        """Into Deleted Items, as Outlook's DELETE does; from Deleted Items itself, gone for good."""
        with self._lock:
            box = self._box(address)
            message = box.message(message_id)
            deleted = box.well_known["deleteditems"]
            if message.folder_id == deleted:
                box.remove(message)
            else:
                box.relocate(message, deleted)

    def send(self, address: str, mime: bytes, *, save_to_sent_items: bool = True) -> None:
        with self._lock:
            box = self._box(address)
            submitted = with_message_id(mime)
            self._sent.append(SentMessage(box.address, submitted))
            if save_to_sent_items:
                self.deliver(address, submitted, "sentitems", is_read=True)

    def create_draft(self, address: str, mime: bytes) -> Message:
        return self.deliver(address, with_message_id(mime), "drafts", is_read=True, is_draft=True)

    def send_draft(self, address: str, message_id: str) -> None:
        with self._lock:
            box = self._box(address)
            draft = box.message(message_id)
            if not draft.is_draft:
                raise ApiError(400, "ErrorInvalidOperation", "Only a draft message can be sent.")
            self._sent.append(SentMessage(box.address, draft.mime))
            box.relocate(dataclasses.replace(draft, is_draft=False, received=_now()), box.well_known["sentitems"])

    def note_invitation(self, address: str, event_id: str, what: str) -> None:
        """Attendees of an event were sent something: "invitation", "update" or "cancellation:{comment}"."""
        with self._lock:
            self._invitations.append((address.lower(), event_id, what))

    def invitations(self, address: str) -> list[tuple[str, str]]:
        with self._lock:
            return [(event_id, what) for box, event_id, what in self._invitations if box == address.lower()]

    def sent(self, address: str | None = None) -> list[SentMessage]:
        with self._lock:
            return [s for s in self._sent if address is None or s.sender.lower() == address.lower()]

    def create_folder(self, address: str, name: str, parent: str = ROOT, folder_id: str | None = None) -> Folder:
        """``folder_id``: the id to give it (the folder as another API named it), else a new one."""
        with self._lock:
            box = self._box(address)
            return box.add_folder(name, box.folder(parent).id, folder_id)

    def rename_folder(self, address: str, folder: str, name: str) -> Folder:
        with self._lock:
            return self._change_folder(self._box(address), folder, name=name)

    def move_folder(self, address: str, folder: str, parent: str) -> Folder:
        with self._lock:
            box = self._box(address)
            return self._change_folder(box, folder, parent_id=box.folder(parent).id)

    @staticmethod
    def _change_folder(box: _Mailbox, ref: str, **changes: str) -> Folder:
        folder = dataclasses.replace(box.folder(ref), **changes)
        box.folders[folder.id] = folder
        box.hierarchy.append(Change(box.tick(), folder.id, removed=False))
        return folder

    def position(self, address: str) -> tuple[int, int]:
        """``(sequence, epoch)``: where a delta round that starts now ends, and the links' generation."""
        with self._lock:
            box = self._box(address)
            return box.seq, box.epoch

    def expire_delta_links(self, address: str) -> None:
        with self._lock:
            self._box(address).epoch += 1

    def message_changes(
        self, address: str, folder_id: str, since: int, until: int
    ) -> list[tuple[Change, Message | None]]:
        """One delta round of a folder: each change with its message, None where the message left the folder."""
        with self._lock:
            box = self._box(address)
            found: list[tuple[Change, Message | None]] = []
            for change in collapse(box.logs[folder_id], since, until):
                message = box.messages.get(change.item_id)
                found.append((change, message if message and message.folder_id == folder_id else None))
            return found

    def folder_changes(self, address: str, since: int, until: int) -> list[Folder]:
        """One delta round of the folder tree (folders are never deleted here, so every change is an upsert)."""
        with self._lock:
            box = self._box(address)
            return [box.folders[c.item_id] for c in collapse(box.hierarchy, since, until)]
