"""The port every incoming connector implements (POP3, IMAP, EWS; later Graph).

A worker opens a session, lists what is new since the folder's watermark, fetches each message's
bytes, and - only after the email is durably stored - advances the watermark and, where the mailbox
says so, deletes the message on the server. Connectors never decide what to track.

POP3 and IMAP read one folder, the Inbox: their session is that folder. An Exchange session reads
several (Inbox, Sent Items, folders with tracking rules, R-IN-1/5, §2.12): it hands out one
:class:`FolderReader` per folder, each with its own watermark, and marks tracked items on the server
afterwards (category, move to "Undeliverable").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sync.model.fields import EntityRef
from sync.model.mailbox import FolderWatermark, Mailbox
from sync.model.profile import EmailServerProfile

INBOX = "INBOX"  # the Inbox's watermark key, for every protocol
SENT_ITEMS = "SENTITEMS"  # Sent Items' watermark key (Exchange, through EWS or Graph alike)
TRACKED_PREFIX = "folder:"  # a tracked folder's watermark key is this plus the folder id


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; the password is plaintext here and lives only in memory.

    With ``oauth`` set the login is SASL XOAUTH2 / OAUTHBEARER with the tokens it fetches (``password`` is
    unused): ``oauth(force_refresh)``, see ``sync/mail/sasl.py``.
    """

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: str  # "implicit" | "starttls" | "none"
    timeout_seconds: float | None
    ca_file: str | None = None  # extra CA to trust (private CA / test CA); None = system trust
    oauth: Callable[[bool], str] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class RemoteMessage:
    """A message on the server, as listed: enough to decide whether and how to fetch it."""

    key: str  # the connector's stable id: IMAP "UIDVALIDITY:UID", POP3 the UIDL, EWS the item id
    size: int  # bytes as reported by the server (RFC822.SIZE / LIST / EWS Size)
    received_on: datetime | None  # IMAP INTERNALDATE, EWS DateTimeReceived; None for POP3
    uid: int | None = None  # IMAP UID
    message_id: str | None = None  # EWS InternetMessageId: known before the message is fetched
    categories: tuple[str, ...] = ()  # EWS categories as listed
    sync_state: str | None = None  # EWS: the state once this message and those before it are stored
    revisit: bool = False  # EWS: a change to an item seen before (it may be tracked already)


class FolderRole(StrEnum):
    """Why a folder is read; the role decides what tracking its messages need."""

    INBOX = "inbox"  # R-IN-1: the filtering method decides
    SENT_ITEMS = "sent"  # R-IN-5: the user's own sent mail, same filtering, stored as outgoing
    TRACKED_FOLDER = "tracked"  # §2.12: everything is tracked, regarding the rule's record
    PROMOTED = "promoted"  # not a folder: the user tracks this one message (DeliverPromoteEmail, R-REC-12)


@dataclass(frozen=True)
class FolderContext:
    """One folder of a cycle: its watermark key and what its messages mean."""

    key: str
    role: FolderRole = FolderRole.INBOX
    regarding: EntityRef | None = None  # a tracking rule's record
    rule_id: str | None = None


INBOX_CONTEXT = FolderContext(INBOX)


@dataclass(frozen=True)
class TrackingRule:
    """A folder-level tracking rule as the connector needs it (no CRM types)."""

    rule_id: str
    folder_id: str
    regarding: EntityRef | None = None


@dataclass(frozen=True)
class FolderPlan:
    """Which folders an Exchange cycle reads besides the Inbox."""

    sent_items: bool = False  # AutoTrackSentFolderItems (R-IN-5)
    rules: tuple[TrackingRule, ...] = ()
    hierarchy_state: str | None = None  # SyncFolderHierarchy state of the Inbox's subfolders
    revisit_categories: frozenset[str] = frozenset()  # a changed item carrying one is looked at again (R-IN-7)


@dataclass(frozen=True)
class RuleChange:
    """A tracked folder that was renamed, or that left the Inbox (moved out or deleted, R-FLT-9), or that the
    profile's new API names by another id (a profile moved from EWS to Graph)."""

    rule_id: str
    name: str | None = None  # the folder's new display name
    gone: bool = False  # no longer under the Inbox: the rule stops
    folder_id: str | None = None  # the folder's id as the profile's API now names it


@dataclass(frozen=True)
class FolderSync:
    """What an Exchange session will read this cycle, and what changed in the Inbox's subfolders."""

    readers: Sequence[FolderReader]
    rule_changes: tuple[RuleChange, ...] = ()
    hierarchy_state: str | None = None


@dataclass(frozen=True)
class ServerMark:
    """What to do to a message on the server once its outcome is stored (R-REC-7, R-REC-9)."""

    message: RemoteMessage
    category: str | None = None  # add this category
    move_to_undeliverable: bool = False


class IncomingSession(Protocol):
    """An open, logged-in session on one mailbox's Inbox."""

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        """Messages not yet processed, oldest first (POP3 uses ``processed_keys``, IMAP the watermark)."""
        ...

    def fetch(self, message: RemoteMessage) -> bytes:
        """The raw bytes (RFC 5322) of one message, leaving its \\Seen flag untouched."""
        ...

    def delete(self, messages: list[RemoteMessage]) -> None:
        """Remove messages from the server (only for mailboxes that delete after processing)."""
        ...

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        """The watermark once ``message`` is durably stored (pure: no server call)."""
        ...

    def close(self) -> None: ...


class FolderReader(Protocol):
    """One folder of an open session: list, fetch and advance its own watermark."""

    @property
    def context(self) -> FolderContext: ...

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]: ...

    def fetch(self, message: RemoteMessage) -> bytes: ...

    def delete(self, messages: list[RemoteMessage]) -> None: ...

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark: ...

    def complete(self, watermark: FolderWatermark) -> FolderWatermark:
        """The watermark once every listed message is stored (EWS: the last page's state)."""
        ...


@runtime_checkable
class ExchangeSession(Protocol):
    """A session that reads several folders and can mark items on the server."""

    def folders(self, plan: FolderPlan) -> FolderSync: ...

    def mark(self, marks: list[ServerMark]) -> None:
        """Categorize / move stored messages; best effort (the emails are stored already)."""
        ...

    def probe(self) -> None:
        """Prove access to the mailbox (Test & Enable) without reading any message."""
        ...

    def close(self) -> None: ...


@dataclass
class InboxReader:
    """A POP3 or IMAP session seen as the one folder it reads."""

    session: IncomingSession
    context: FolderContext = field(default=INBOX_CONTEXT)

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        return self.session.list_new(watermark, processed_keys)

    def fetch(self, message: RemoteMessage) -> bytes:
        return self.session.fetch(message)

    def delete(self, messages: list[RemoteMessage]) -> None:
        self.session.delete(messages)

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        return self.session.advance(watermark, message)

    def complete(self, watermark: FolderWatermark) -> FolderWatermark:
        return watermark


class IncomingConnector(Protocol):
    def open(self, settings: ConnectionSettings) -> IncomingSession:
        """Connect, secure and log in; raises a typed MailServerError on failure."""
        ...


@runtime_checkable
class ExchangeConnector(Protocol):
    """Exchange needs the mailbox and profile themselves (address, impersonation, OAuth app, version)."""

    def open_mailbox(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> ExchangeSession:
        """Connect to ``mailbox``; raises a typed MailServerError on failure.

        ``deadline`` (``time.monotonic()`` seconds) bounds any wait the server asks for: past it, the
        session raises :class:`~sync.mail.errors.ServerBusy` instead of sleeping.
        """
        ...


def iter_batches(items: list[RemoteMessage], size: int) -> Iterator[list[RemoteMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
