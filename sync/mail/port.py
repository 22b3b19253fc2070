"""The port every incoming connector implements (POP3, IMAP; later EWS and Graph).

A worker opens a session, lists what is new since the folder's watermark, fetches each message's
bytes, and - only after the email is durably stored - advances the watermark and, where the mailbox
says so, deletes the message on the server. Connectors never decide what to track.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync.model.mailbox import FolderWatermark


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; the password is plaintext here and lives only in memory."""

    host: str
    port: int
    username: str
    password: str
    tls: str  # "implicit" | "starttls" | "none"
    timeout_seconds: float | None
    ca_file: str | None = None  # extra CA to trust (private CA / test CA); None = system trust


@dataclass(frozen=True)
class RemoteMessage:
    """A message on the server, as listed: enough to decide whether and how to fetch it."""

    key: str  # the connector's stable id: IMAP "UIDVALIDITY:UID", POP3 the UIDL
    size: int  # bytes as reported by the server (RFC822.SIZE / LIST)
    received_on: datetime | None  # IMAP INTERNALDATE; None for POP3
    uid: int | None = None  # IMAP UID


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


class IncomingConnector(Protocol):
    def open(self, settings: ConnectionSettings) -> IncomingSession:
        """Connect, secure and log in; raises a typed MailServerError on failure."""
        ...


def iter_batches(items: list[RemoteMessage], size: int) -> Iterator[list[RemoteMessage]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
