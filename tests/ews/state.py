"""In-memory Exchange mailboxes: folders, items and the change logs that EWS synchronisation reads.

Nothing here knows XML or HTTP, so the SOAP operations and the test API act on the same state. The HTTP
server answers on several threads, so every mailbox of a store shares one re-entrant lock.

Each mailbox keeps two append-only logs, one for items and one for folders. A sync state is a position
in one of them (bound to the synced folder), so "changes since this state" is "log entries after this
position", collapsed per object the way Exchange reports them: created-then-deleted is nothing,
created-then-updated is one Create, and so on.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import itertools
import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime
from typing import TypeVar

from tests.ews.errors import StateError
from tests.ews.item_kinds import KINDS
from tests.ews.values import ExtendedField

# distinguished id -> (parent, display name, folder class); the folders every mailbox starts with
DISTINGUISHED_FOLDERS: dict[str, tuple[str | None, str, str | None]] = {
    "root": (None, "Root", None),
    "msgfolderroot": ("root", "Top of Information Store", None),
    "inbox": ("msgfolderroot", "Inbox", "IPF.Note"),
    "sentitems": ("msgfolderroot", "Sent Items", "IPF.Note"),
    "deleteditems": ("msgfolderroot", "Deleted Items", "IPF.Note"),
    "drafts": ("msgfolderroot", "Drafts", "IPF.Note"),
    "outbox": ("msgfolderroot", "Outbox", "IPF.Note"),
    "junkemail": ("msgfolderroot", "Junk Email", "IPF.Note"),
    "calendar": ("msgfolderroot", "Calendar", "IPF.Appointment"),
    "contacts": ("msgfolderroot", "Contacts", "IPF.Contact"),
    "tasks": ("msgfolderroot", "Tasks", "IPF.Task"),
}

CREATE, UPDATE, DELETE, READ_FLAG = "Create", "Update", "Delete", "ReadFlagChange"
T = TypeVar("T")


def parse_headers(mime: bytes) -> Message:
    return BytesParser(policy=default_policy).parsebytes(mime, headersonly=True)


def addresses(mime: bytes, *headers: str) -> list[tuple[str, str]]:
    """(name, address) pairs of the given MIME headers, e.g. ``addresses(mime, "To", "Cc")``."""
    parsed = parse_headers(mime)
    return getaddresses([str(value) for name in headers for value in parsed.get_all(name, [])])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


BINARY_HEAD = b"\xfb\xff\xbf"  # encodes as "+/+/": real ids are base64 of binary and carry both (Graph's do not)


def _opaque(kind: str, *parts: object) -> str:
    """Ids and change keys are opaque base64 strings on real Exchange; clients must not parse them."""
    return base64.b64encode(BINARY_HEAD + ":".join(map(str, (kind, *parts))).encode()).decode()


@dataclass(frozen=True)
class Folder:
    folder_id: str
    change_key: str
    parent_id: str | None
    name: str
    folder_class: str | None
    distinguished: str | None = None
    extended_properties: dict[ExtendedField, object] = field(default_factory=dict)  # set by UpdateFolder


@dataclass(frozen=True)
class Item:
    """One mailbox item. A message (``item_type`` "Message") is its MIME; a calendar item, contact or task
    (see ``item_kinds``) has no MIME and keeps its properties in ``extra``, keyed by exchangelib's field
    names ("start", "required_attendees", "percent_complete", ...), with typed values (``values``). Any item
    can have ``extended_properties``, custom properties a client names by an ExtendedFieldURI.

    ``received`` is when the item arrived or was created; ``modified`` when it was last changed, if ever."""

    item_id: str
    change_key: str
    folder_id: str
    mime: bytes
    received: datetime.datetime
    is_read: bool = False
    categories: tuple[str, ...] = ()
    item_type: str = "Message"
    item_class: str = "IPM.Note"
    extra: dict[str, object] = field(default_factory=dict)
    modified: datetime.datetime | None = None
    extended_properties: dict[ExtendedField, object] = field(default_factory=dict)

    def value(self, name: str, kind: type[T]) -> T | None:
        """The property ``name`` from ``extra``, or None if the item has none; another type than ``kind`` is
        a TypeError, so a test reads e.g. ``item.value("start", datetime.datetime)`` without casts."""
        found = self.extra.get(name)
        if found is None or isinstance(found, kind):
            return found
        raise TypeError(f"{name} of this {self.item_type} is a {type(found).__name__}, not a {kind.__name__}")

    @property
    def last_modified(self) -> datetime.datetime:
        return self.modified or self.received

    def header(self, name: str) -> str | None:
        value = parse_headers(self.mime)[name]
        return None if value is None else str(value).strip()

    @property
    def subject(self) -> str | None:
        return self.header("Subject") if self.item_type == "Message" else self.value("subject", str)

    @property
    def message_id(self) -> str | None:
        return self.header("Message-ID")

    @property
    def sent(self) -> datetime.datetime | None:
        with contextlib.suppress(TypeError, ValueError):
            return parsedate_to_datetime(self.header("Date") or "")
        return None

    @property
    def size(self) -> int:
        return len(self.mime)


@dataclass(frozen=True)
class _Entry:
    """One change log entry. ``key`` is the item or folder id; ``where`` is ``(item's folder,)`` for items,
    and for folders the folder's ancestors after the change, so moves into and out of a subtree show."""

    key: str
    kind: str
    where: tuple[str, ...]


@dataclass
class Changes:
    """What a sync answers: ``(kind, object)`` pairs, the new state, and whether nothing is left."""

    changes: list[tuple[str, Item | Folder | str]]
    sync_state: str
    includes_last: bool


class Mailbox:
    def __init__(self, address: str, lock: threading.RLock, ids: Iterator[int]) -> None:
        self.address = address
        self._lock = lock
        self._ids = ids
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self._item_log: list[_Entry] = []
        self._folder_log: list[_Entry] = []
        self._distinguished: dict[str, str] = {}
        for name, (parent, display_name, folder_class) in DISTINGUISHED_FOLDERS.items():
            parent_id = self._distinguished[parent] if parent else None
            folder = self._add_folder(parent_id, display_name, folder_class, distinguished=name)
            self._distinguished[name] = folder.folder_id

    def _new_id(self, kind: str) -> str:
        return _opaque(kind, self.address, next(self._ids))

    def _change_key(self) -> str:
        return _opaque("ck", next(self._ids))

    # folders

    def folder(self, ref: str) -> Folder:
        """A folder by id or distinguished name; ErrorFolderNotFound otherwise."""
        with self._lock:
            folder_id = self._distinguished.get(ref, ref)
            if folder_id not in self.folders:
                raise StateError("ErrorFolderNotFound", f"The specified folder could not be found: {ref}")
            return self.folders[folder_id]

    def children(self, folder_id: str, *, deep: bool = False) -> list[Folder]:
        with self._lock:
            found: list[Folder] = []
            for child in (f for f in self.folders.values() if f.parent_id == folder_id):
                found.append(child)
                if deep:
                    found.extend(self.children(child.folder_id, deep=True))
            return found

    def counts(self, folder_id: str) -> tuple[int, int, int]:
        """(total items, unread items, child folders)."""
        with self._lock:
            items = [i for i in self.items.values() if i.folder_id == folder_id]
            return len(items), sum(not i.is_read for i in items), len(self.children(folder_id))

    def _ancestors(self, folder_id: str | None) -> tuple[str, ...]:
        chain: list[str] = []
        while folder_id is not None:
            chain.append(folder_id)
            folder_id = self.folders[folder_id].parent_id
        return tuple(chain)

    def _add_folder(
        self, parent_id: str | None, name: str, folder_class: str | None, distinguished: str | None
    ) -> Folder:
        folder = Folder(self._new_id("folder"), self._change_key(), parent_id, name, folder_class, distinguished)
        self.folders[folder.folder_id] = folder
        self._folder_log.append(_Entry(folder.folder_id, CREATE, self._ancestors(parent_id)))
        return folder

    def create_folder(self, parent: str, name: str, folder_class: str | None = "IPF.Note") -> Folder:
        with self._lock:
            parent_id = self.folder(parent).folder_id
            if any(f.name.lower() == name.lower() for f in self.children(parent_id)):
                raise StateError("ErrorFolderExists", f"A folder named {name!r} already exists")
            return self._add_folder(parent_id, name, folder_class, None)

    def update_folder(self, ref: str, *, name: str | None = None, parent: str | None = None) -> Folder:
        """Rename and/or move a folder; a new change key, logged as an Update."""
        with self._lock:
            folder = self.folder(ref)
            parent_id = folder.parent_id if parent is None else self.folder(parent).folder_id
            if parent_id is not None and folder.folder_id in self._ancestors(parent_id):
                raise StateError("ErrorMoveCopyFailed", "A folder cannot be moved into itself")
            updated = replace(folder, name=name or folder.name, parent_id=parent_id, change_key=self._change_key())
            self.folders[folder.folder_id] = updated
            self._folder_log.append(_Entry(folder.folder_id, UPDATE, self._ancestors(parent_id)))
            return updated

    def set_folder_properties(self, ref: str, changes: Mapping[ExtendedField, object | None]) -> Folder:
        """UpdateFolder of extended properties (None deletes one); a new change key. Not a hierarchy change."""
        with self._lock:
            folder = self.folder(ref)
            properties = {**folder.extended_properties, **changes}
            kept = {name: value for name, value in properties.items() if value is not None}
            updated = replace(folder, extended_properties=kept, change_key=self._change_key())
            self.folders[folder.folder_id] = updated
            return updated

    # items

    def item(self, item_id: str) -> Item:
        with self._lock:
            if item_id not in self.items:
                raise StateError("ErrorItemNotFound", "The specified object was not found in the store.")
            return self.items[item_id]

    def folder_items(self, folder: str) -> list[Item]:
        """The items of a folder, newest first (the order Exchange views default to)."""
        with self._lock:
            folder_id = self.folder(folder).folder_id
            found = [i for i in self.items.values() if i.folder_id == folder_id]
            return sorted(found, key=lambda i: i.received, reverse=True)

    def add_item(
        self,
        folder: str,
        mime: bytes,
        *,
        received: datetime.datetime | None = None,
        is_read: bool = False,
        categories: Iterable[str] = (),
        extended_properties: Mapping[ExtendedField, object] | None = None,
        item_class: str = "IPM.Note",
    ) -> Item:
        """A message (meeting requests and cancellations too: ``item_class`` says which) from its MIME."""
        with self._lock:
            item = Item(
                item_id=self._new_id("item"),
                change_key=self._change_key(),
                folder_id=self.folder(folder).folder_id,
                mime=mime,
                received=received or _now(),
                is_read=is_read,
                categories=tuple(categories),
                item_class=item_class,
                extended_properties=dict(extended_properties or {}),
            )
            return self._log_created(item)

    def create_item(
        self,
        kind: str,
        fields: Mapping[str, object],
        *,
        folder: str | None = None,
        categories: Iterable[str] = (),
        extended_properties: Mapping[ExtendedField, object] | None = None,
    ) -> Item:
        """A calendar item, contact or task (``kind`` of ``item_kinds.KINDS``) with these properties (None is
        none), in the kind's default folder unless ``folder`` is given; the server's own rules fill in the rest."""
        with self._lock:
            spec, now = KINDS[kind], _now()
            fields = {name: value for name, value in fields.items() if value is not None}
            item = Item(
                item_id=self._new_id("item"),
                change_key=self._change_key(),
                folder_id=self.folder(folder or spec.default_folder).folder_id,
                mime=b"",
                received=now,
                is_read=True,
                categories=tuple(categories),
                item_type=kind,
                item_class=spec.item_class,
                extra=spec.settle(fields, frozenset(fields), now),
                extended_properties=dict(extended_properties or {}),
            )
            return self._log_created(item)

    def _log_created(self, item: Item) -> Item:
        self.items[item.item_id] = item
        self._item_log.append(_Entry(item.item_id, CREATE, (item.folder_id,)))
        return item

    def update_item(
        self,
        item_id: str,
        *,
        is_read: bool | None = None,
        categories: Iterable[str] | None = None,
        fields: Mapping[str, object | None] | None = None,
        extended_properties: Mapping[ExtendedField, object | None] | None = None,
    ) -> Item:
        """Change flags, categories, extended properties or the properties of a calendar item, contact or task
        (None deletes one); a read-flag-only change is logged as a ReadFlagChange."""
        with self._lock:
            item, now = self.item(item_id), _now()
            new_categories = item.categories if categories is None else tuple(categories)
            new_read = item.is_read if is_read is None else is_read
            extra = item.extra
            if fields:
                if item.item_type not in KINDS:
                    raise StateError("ErrorInvalidPropertySet", f"A {item.item_type} has no such properties.")
                merged = {name: value for name, value in {**extra, **fields}.items() if value is not None}
                extra = KINDS[item.item_type].settle(merged, frozenset(fields), now)
            extended = {**item.extended_properties, **(extended_properties or {})}
            kind = READ_FLAG if new_categories == item.categories and not fields and not extended_properties else UPDATE
            updated = replace(
                item,
                is_read=new_read,
                categories=new_categories,
                extra=extra,
                extended_properties={key: value for key, value in extended.items() if value is not None},
                modified=now,
                change_key=self._change_key(),
            )
            self.items[item_id] = updated
            self._item_log.append(_Entry(item_id, kind, (item.folder_id,)))
            return updated

    def move_item(self, item_id: str, folder: str) -> Item:
        """Exchange gives a moved item a new id: a Delete in the old folder and a Create in the new one."""
        with self._lock:
            item = self.item(item_id)
            target = self.folder(folder).folder_id
            self.delete_item(item_id)
            moved = replace(item, item_id=self._new_id("item"), change_key=self._change_key(), folder_id=target)
            return self._log_created(moved)

    def delete_item(self, item_id: str) -> None:
        with self._lock:
            item = self.item(item_id)
            del self.items[item_id]
            self._item_log.append(_Entry(item_id, DELETE, (item.folder_id,)))

    # synchronisation

    def _state(self, log: str, folder_id: str, position: int) -> str:
        return base64.b64encode(json.dumps({"log": log, "folder": folder_id, "at": position}).encode()).decode()

    def _position(self, log: str, folder_id: str, state: str | None) -> int:
        if not state:
            return 0
        try:
            decoded = json.loads(base64.b64decode(state, validate=True))
            if decoded["log"] == log and decoded["folder"] == folder_id and isinstance(decoded["at"], int):
                return int(decoded["at"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            pass
        raise StateError("ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")

    def item_changes(self, folder: str, state: str | None, max_changes: int) -> Changes:
        """Item changes in ``folder`` since ``state``, at most ``max_changes`` of them."""
        with self._lock:
            folder_id = self.folder(folder).folder_id
            position = self._position("items", folder_id, state)
            window: dict[str, tuple[str, set[str]]] = {}  # item id -> (first kind, all kinds) since the state
            log, end = self._item_log, len(self._item_log)
            for index in range(position, len(log)):
                entry = log[index]
                if entry.where != (folder_id,):
                    continue
                if entry.key not in window and len(self._collapse(window)) >= max_changes:
                    end = index
                    break
                window.setdefault(entry.key, (entry.kind, set()))[1].add(entry.kind)
            rest = any(e.where == (folder_id,) for e in log[end:])
            return Changes(self._collapse(window), self._state("items", folder_id, end), not rest)

    def _collapse(self, window: dict[str, tuple[str, set[str]]]) -> list[tuple[str, Item | Folder | str]]:
        """One change per item, judged against the item as it is now (gone means Delete or nothing)."""
        changes: list[tuple[str, Item | Folder | str]] = []
        for key, (first, kinds) in window.items():
            item = self.items.get(key)
            if item is None:
                if first != CREATE:
                    changes.append((DELETE, key))
            elif first == CREATE:
                changes.append((CREATE, item))
            else:
                changes.append((READ_FLAG if kinds == {READ_FLAG} else UPDATE, item))
        return changes

    def folder_changes(self, folder: str, state: str | None) -> Changes:
        """Folder changes below ``folder`` since ``state``: moving in is a Create, moving out a Delete."""
        with self._lock:
            folder_id = self.folder(folder).folder_id
            position = self._position("folders", folder_id, state)
            before: dict[str, bool] = {}
            for entry in self._folder_log[:position]:
                before[entry.key] = folder_id in entry.where
            changes: list[tuple[str, Item | Folder | str]] = []
            for key in dict.fromkeys(e.key for e in self._folder_log[position:]):
                was_in, now_in = before.get(key, False), folder_id in self._ancestors(self.folders[key].parent_id)
                if now_in:
                    changes.append((UPDATE if was_in else CREATE, self.folders[key]))
                elif was_in:
                    changes.append((DELETE, key))
            return Changes(changes, self._state("folders", folder_id, len(self._folder_log)), True)


@dataclass(frozen=True)
class SentMessage:
    """A message that left a mailbox through CreateItem with a Send disposition."""

    sender: str
    recipients: tuple[str, ...]  # To, Cc and Bcc
    mime: bytes
    item_class: str = "IPM.Note"  # IPM.Schedule.Meeting.Request or .Canceled for meeting messages


class MailStore:
    """All mailboxes of one server, keyed by lower-cased SMTP address, and the mail sent between them."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self._mailboxes: dict[str, Mailbox] = {}
        self.sent: list[SentMessage] = []

    def add(self, address: str) -> Mailbox:
        with self.lock:
            key = address.lower()
            if key not in self._mailboxes:
                self._mailboxes[key] = Mailbox(address, self.lock, self._ids)
            return self._mailboxes[key]

    def get(self, address: str) -> Mailbox | None:
        with self.lock:
            return self._mailboxes.get(address.lower())

    def send(
        self,
        sender: Mailbox,
        mime: bytes,
        recipients: Iterable[str],
        save_in: str | None,
        extended_properties: Mapping[ExtendedField, object] | None = None,
        *,
        item_class: str = "IPM.Note",
    ) -> Item | None:
        """Record the message as sent, deliver it to every recipient mailbox of this store, and keep a read
        copy in ``save_in`` (Sent Items for SendAndSaveCopy). Only that copy keeps the extended properties;
        recipients get the MIME."""
        with self.lock:
            sent = SentMessage(sender.address, tuple(recipients), mime, item_class)
            self.sent.append(sent)
            for address in dict.fromkeys(r.lower() for r in sent.recipients):
                if (mailbox := self.get(address)) is not None:
                    mailbox.add_item("inbox", mime, item_class=item_class)
            if save_in is None:
                return None
            return sender.add_item(
                save_in, mime, is_read=True, extended_properties=extended_properties, item_class=item_class
            )
