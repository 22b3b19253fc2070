"""IMAP incoming connector: the Inbox only (R-PROV-10), tracked by UIDVALIDITY + last UID.

How one cycle decides what is new, given the folder's watermark::

    EXAMINE INBOX ──► same UIDVALIDITY, UIDNEXT <= last_uid + 1 ──► nothing new: 1 round trip after login
        │
        ├─ same UIDVALIDITY, UIDNEXT moved ──► UID SEARCH UID last_uid+1:* ──► UID FETCH (RFC822.SIZE INTERNALDATE)
        │
        └─ UIDVALIDITY changed, or none yet ──► date fallback: SEARCH SINCE <day before last_received_on>
                                                 and keep INTERNALDATE >= last_received_on (everything on a first run)

Then, per message and only after it is stored: ``fetch`` (BODY.PEEK[], so \\Seen is untouched), ``advance`` (pure)
and, for mailboxes that delete after processing (R-FWD-4), ``delete`` (\\Deleted + UID EXPUNGE of those UIDs only).

The date fallback keeps INTERNALDATE >= last_received_on, not >: INTERNALDATE has one-second resolution and two
messages may share a second, so ">" could skip the one not yet stored, for good. The overlap (mail of that last
second already stored) is absorbed by the pipeline's Message-ID dedupe. Messages are listed oldest UID first so
that advancing in order never skips one. Limit: after a UIDVALIDITY change, mail that reached the Inbox with an
older INTERNALDATE than the watermark (moved in from another folder, APPENDed) is not seen by the date fallback.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.tls import IMAP4_TLS
from imapclient.tls import wrap_socket as tls_wrap_socket

from sync.mail import egress
from sync.mail.errors import (
    MailAuthenticationError,
    MailServerError,
    PermanentMailError,
    TransientMailError,
)
from sync.mail.port import ConnectionSettings, RemoteMessage
from sync.mail.transport import TLS_MODES, Kind, Stage, client_tls_context, map_network_error, text_of, typed_errors
from sync.model.mailbox import FolderWatermark

INBOX = "INBOX"
LIST_ITEMS = ("RFC822.SIZE", "INTERNALDATE")
BODY_ITEM = "BODY.PEEK[]"  # PEEK: reading must not set \Seen in the user's mail client
BODY_KEY = b"BODY[]"  # how the server names the item in its answer
DELETED = b"\\Deleted"
FETCH_CHUNK = 1000  # UIDs per FETCH/STORE: keeps a command line well under Dovecot's 64 KiB limit
DATE_SLACK = timedelta(days=1)  # SEARCH SINCE compares dates in the server's zone, ignoring the time

LOGIN_REFUSED: Kind = (MailAuthenticationError, "AuthenticationFailed", "login refused")
SERVER_BUSY: Kind = (TransientMailError, "ServerUnavailable", "server unavailable")
# RFC 5530 response codes that say more than the command that got them.
RESPONSE_CODES: dict[str, Kind] = {
    **dict.fromkeys(("AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "CONTACTADMIN"), LOGIN_REFUSED),
    **dict.fromkeys(("UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT"), SERVER_BUSY),
    "PRIVACYREQUIRED": (PermanentMailError, "SecureConnectionRequired", "server requires TLS"),
}
REFUSED_AT: dict[Stage, Kind] = {
    "connect": (PermanentMailError, "ProtocolError", "not an IMAP server, or no usable greeting"),
    "login": LOGIN_REFUSED,
    "session": (TransientMailError, "ServerError", "server refused the command"),
}
DROPPED: Kind = (TransientMailError, "ConnectionDropped", "connection dropped")
RESPONSE_CODE = re.compile(r"\[([A-Z][A-Z0-9/-]*)")


def message_key(uid_validity: int, uid: int) -> str:
    """A UID names a message only together with its UIDVALIDITY (RFC 3501 §2.3.1.1)."""
    return f"{uid_validity}:{uid}"


def parse_key(key: str) -> tuple[int, int]:
    """``"UIDVALIDITY:UID"`` back into its two numbers; ValueError for anything else."""
    validity, sep, uid = key.partition(":")
    if not sep or not validity.isdigit() or not uid.isdigit():
        raise ValueError(f"not an IMAP message key: {key!r}")
    return int(validity), int(uid)


def map_imap_error(exc: BaseException, where: str, stage: Stage = "session") -> MailServerError | None:
    """The typed error for a failure of IMAPClient/imaplib; ``None`` when ``exc`` is not a mail failure (a bug)."""
    network = map_network_error(exc, where)
    if network is not None or not isinstance(exc, imaplib.IMAP4.error):
        return network
    error_class, code, phrase = _imap_kind(exc, stage)
    return error_class(f"{where}: {phrase}: {text_of(exc)}", code=code)


def _imap_kind(exc: imaplib.IMAP4.error, stage: Stage) -> Kind:
    """IMAPClient turns even a link dropped during LOGIN into ``LoginError``, so the cause is checked first."""
    if isinstance(exc, CapabilityError):
        code = "StartTlsNotSupported" if "STARTTLS" in str(exc) else "CapabilityMissing"
        return (PermanentMailError, code, "server lacks a capability")
    if isinstance(exc, imaplib.IMAP4.readonly):  # SELECT to delete got READ-ONLY: deleting cannot work
        return (PermanentMailError, "MailboxReadOnly", "mailbox is read-only")
    if isinstance(exc, imaplib.IMAP4.abort) or isinstance(exc.__context__, imaplib.IMAP4.abort):
        return DROPPED
    found = RESPONSE_CODE.search(text_of(exc))
    if found and found.group(1) in RESPONSE_CODES:
        return RESPONSE_CODES[found.group(1)]
    return REFUSED_AT["login" if isinstance(exc, LoginError) else stage]


class ImapConnector:
    """Opens logged-in IMAP sessions: implicit TLS, STARTTLS, or plaintext only when ``tls == "none"``."""

    def open(self, settings: ConnectionSettings) -> ImapSession:
        if settings.tls not in TLS_MODES:
            raise ValueError(f"unknown TLS mode {settings.tls!r}; expected one of {TLS_MODES}")
        where = f"IMAP {settings.host}:{settings.port}"
        client: Any = None
        try:
            with typed_errors(map_imap_error, where, settings.password, "connect"):
                client = _connect(settings)
            with typed_errors(map_imap_error, where, settings.password, "login"):
                client.login(settings.username, settings.password)
                # LOGIN's answer carries the capabilities: caching them now spares a CAPABILITY round trip later.
                client.capabilities()
        except BaseException:
            if client is not None:
                _shutdown(client)  # a failed login left open makes Dovecot stall the next one (~4 s)
            raise
        return ImapSession(client, where, settings.password)


@dataclass(frozen=True)
class _Inbox:
    """What SELECT/EXAMINE said about the Inbox."""

    uid_validity: int
    uid_next: int | None  # optional in RFC 3501 servers; absent means "search to find out"
    exists: int
    readwrite: bool


class ImapSession:
    """One logged-in IMAP connection on the Inbox; any failure leaves it unusable (close it, open anew)."""

    def __init__(self, client: Any, where: str, secret: str) -> None:
        self._client = client
        self._where = where
        self._secret = secret
        self._inbox: _Inbox | None = None
        self._broken = False
        self._closed = False

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        """New messages, oldest UID first; one EXAMINE and nothing else when nothing arrived.

        ``processed_keys`` is honoured too, although the watermark alone decides on the UID path.
        """
        with self._command():
            inbox = self._select(readwrite=False)
            if inbox.exists == 0:
                return []
            if watermark.uid_validity == inbox.uid_validity and watermark.last_uid is not None:
                listed = self._list_after(watermark.last_uid, inbox)
            else:
                listed = self._list_by_date(watermark.last_received_on, inbox)
        return [message for message in listed if message.key not in processed_keys]

    def fetch(self, message: RemoteMessage) -> bytes:
        """The raw message, read with BODY.PEEK[] so its \\Seen flag stays as the user left it."""
        uid_validity, uid = parse_key(message.key)
        with self._command():
            inbox = self._inbox or self._select(readwrite=False)
        self._check_epoch(uid_validity, inbox)
        with self._command():
            answer = self._client.fetch([uid], [BODY_ITEM])
        body = answer.get(uid, {}).get(BODY_KEY)
        if body is None:
            raise TransientMailError(f"{self._where}: UID {uid} is no longer in the Inbox", code="MessageNotFound")
        return bytes(body)

    def delete(self, messages: list[RemoteMessage]) -> None:
        """Flag the messages \\Deleted and expunge exactly those UIDs.

        Without UIDPLUS a plain EXPUNGE would also purge what the user flagged for deletion, so the messages are
        only flagged; the next expunge by any client removes them. UIDs already gone are ignored, and so are keys
        of an older UIDVALIDITY: such a UID may name another message now, and the date fallback lists the old
        one again under its new UID.
        """
        if not messages:
            return
        with self._command():
            inbox = self._inbox if self._inbox is not None and self._inbox.readwrite else self._select(readwrite=True)
            keys = [parse_key(message.key) for message in messages]
            uids = sorted({uid for uid_validity, uid in keys if uid_validity == inbox.uid_validity})
            expunge = bool(uids) and self._client.has_capability("UIDPLUS")
            for start in range(0, len(uids), FETCH_CHUNK):
                chunk = uids[start : start + FETCH_CHUNK]
                self._client.add_flags(chunk, [DELETED], silent=True)
                if expunge:
                    self._client.uid_expunge(chunk)

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        """The watermark past ``message``; a new UIDVALIDITY restarts ``last_uid`` from this message."""
        uid_validity, uid = parse_key(message.key)
        same_epoch = watermark.uid_validity == uid_validity and watermark.last_uid is not None
        last_uid = max(watermark.last_uid or 0, uid) if same_epoch else uid
        received = [d for d in (watermark.last_received_on, message.received_on) if d is not None]
        last_received_on = max(received, key=_as_utc) if received else None
        return watermark.model_copy(
            update={"uid_validity": uid_validity, "last_uid": last_uid, "last_received_on": last_received_on}
        )

    def close(self) -> None:
        """LOGOUT, or just close the socket when the link already failed (LOGOUT would only wait)."""
        if self._closed:
            return
        self._closed = True
        if not self._broken:
            with contextlib.suppress(Exception):  # a failed LOGOUT still needs the socket shut below
                self._client.logout()
                return
        _shutdown(self._client)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _command(self) -> Iterator[None]:
        if self._closed:
            raise RuntimeError("the IMAP session is closed")
        try:
            with typed_errors(map_imap_error, self._where, self._secret):
                yield
        except BaseException:
            self._broken = True
            raise

    def _select(self, *, readwrite: bool) -> _Inbox:
        """EXAMINE (read-only) for listing and reading; SELECT only to delete."""
        answer = self._client.select_folder(INBOX, readonly=not readwrite)
        if b"UIDVALIDITY" not in answer:
            raise PermanentMailError(f"{self._where}: SELECT gave no UIDVALIDITY", code="ProtocolError")
        self._inbox = _Inbox(
            uid_validity=int(answer[b"UIDVALIDITY"]),
            uid_next=int(answer[b"UIDNEXT"]) if b"UIDNEXT" in answer else None,
            exists=int(answer.get(b"EXISTS", 0)),
            readwrite=readwrite,
        )
        return self._inbox

    def _list_after(self, last_uid: int, inbox: _Inbox) -> list[RemoteMessage]:
        if inbox.uid_next is not None and inbox.uid_next <= last_uid + 1:
            return []
        # "n:*" always matches the highest UID, even when it is below n (RFC 3501 §6.4.8): filter it out.
        uids = [uid for uid in self._client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid]
        return self._describe(uids, inbox)

    def _list_by_date(self, since: datetime | None, inbox: _Inbox) -> list[RemoteMessage]:
        criteria: list[Any] = ["ALL"] if since is None else ["SINCE", (_as_utc(since) - DATE_SLACK).date()]
        listed = self._describe(self._client.search(criteria), inbox)
        if since is None:
            return listed
        after = _as_utc(since)
        return [m for m in listed if m.received_on is None or m.received_on >= after]

    def _describe(self, uids: list[int], inbox: _Inbox) -> list[RemoteMessage]:
        ordered = sorted(set(uids))
        listed: list[RemoteMessage] = []
        for start in range(0, len(ordered), FETCH_CHUNK):
            answer = self._client.fetch(ordered[start : start + FETCH_CHUNK], list(LIST_ITEMS))
            for uid in sorted(answer):  # a UID expunged meanwhile is simply absent
                items = answer[uid]
                internal_date = items.get(b"INTERNALDATE")
                listed.append(
                    RemoteMessage(
                        key=message_key(inbox.uid_validity, uid),
                        size=int(items.get(b"RFC822.SIZE", 0)),
                        received_on=_as_utc(internal_date) if internal_date is not None else None,
                        uid=uid,
                    )
                )
        return listed

    def _check_epoch(self, uid_validity: int, inbox: _Inbox) -> None:
        """A UID from another UIDVALIDITY may name a different message now: never read by it."""
        if uid_validity != inbox.uid_validity:
            raise TransientMailError(
                f"{self._where}: UIDVALIDITY is now {inbox.uid_validity}, the message was listed under {uid_validity}",
                code="UidValidityChanged",
            )


def _connect(settings: ConnectionSettings) -> Any:
    """Connect and secure the link; the certificate and the host name are always verified."""
    context = client_tls_context(settings.ca_file) if settings.tls != "none" else None
    client = _CheckedIMAPClient(
        settings.host,
        port=settings.port,
        ssl=settings.tls == "implicit",
        ssl_context=context,
        timeout=settings.timeout_seconds,
    )
    client.normalise_times = False  # keep INTERNALDATE's zone instead of converting to naive local time
    if settings.tls == "starttls":
        try:
            client.starttls(context)
        except BaseException:
            _shutdown(client)
            raise
    return client


class _CheckedIMAP4(IMAP4WithTimeout):  # type: ignore[misc]
    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return egress.connect(self.host, self.port, timeout if timeout is not None else self._timeout)


class _CheckedIMAP4TLS(IMAP4_TLS):  # type: ignore[misc]
    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = egress.connect(self.host, self.port, timeout if timeout is not None else self._timeout)
        wrapped: socket.socket = tls_wrap_socket(sock, self.ssl_context, self.host)
        return wrapped


class _CheckedIMAPClient(IMAPClient):  # type: ignore[misc]
    """IMAPClient whose connection goes to a checked address of the host (``sync.mail.egress``)."""

    def _create_IMAP4(self) -> imaplib.IMAP4:  # noqa: N802 (IMAPClient's hook name)
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _CheckedIMAP4TLS(self.host, self.port, self.ssl_context, timeout)
        return _CheckedIMAP4(self.host, self.port, timeout)


def _shutdown(client: Any) -> None:
    with contextlib.suppress(Exception):  # the socket may already be gone; nothing else to release
        client.shutdown()


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC, as everything this project stores is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
