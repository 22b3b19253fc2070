"""IMAP incoming connector: the Inbox only (R-PROV-10), tracked by UIDVALIDITY + last UID.

How one cycle decides what is new, given the folder's watermark::

    SELECT INBOX ──► same UIDVALIDITY, UIDNEXT <= last_uid + 1 ──► nothing new: 1 round trip after login
        │
        ├─ same UIDVALIDITY, UIDNEXT moved ──► UID FETCH last_uid+1..UIDNEXT-1 (RFC822.SIZE INTERNALDATE)
        │                                      (UID SEARCH UID last_uid+1:* first when UIDNEXT is unknown or far)
        │
        ├─ no watermark yet ──► UID SEARCH ALL: everything is new
        │
        └─ UIDVALIDITY changed ──► UID SEARCH ALL + each message's Message-ID: listed as a *revisit*, so the
                                   worker skips (without downloading) what this mailbox tracked already

Then, per message and only after it is stored: ``fetch`` (BODY.PEEK[], so \\Seen is untouched), ``advance`` (pure)
and, for mailboxes that delete after processing (R-FWD-4), ``delete`` (\\Deleted, then UID EXPUNGE of those UIDs;
without UIDPLUS an EXPUNGE with the user's own pending deletions set aside).

Why SELECT and not the read-only EXAMINE: servers that keep UIDs inside the mailbox (Courier, GNU Mailutils'
mbox) assign UIDs to new mail, and persist UIDVALIDITY, only in a read-write session. Under EXAMINE they report
a new UIDVALIDITY every session, so every cycle would start over. SELECT changes no flag but \\Recent;
BODY.PEEK[] keeps \\Seen as the user left it.

Why a UIDVALIDITY change lists the whole Inbox and not only mail since the last INTERNALDATE: mail copied or
APPENDed into the Inbox keeps its older INTERNALDATE and would never be seen. The Message-IDs let the worker
skip the mail it tracked without downloading it; the Message-ID dedupe absorbs the rest.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from types import TracebackType
from typing import Any, Self

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, LoginError
from imapclient.imap4 import IMAP4WithTimeout
from imapclient.tls import IMAP4_TLS
from imapclient.tls import wrap_socket as tls_wrap_socket

from sync.mail import egress, sasl
from sync.mail.errors import (
    MailAuthenticationError,
    MailServerError,
    PermanentMailError,
    SecureConnectionRequired,
    TransientMailError,
)
from sync.mail.port import ConnectionSettings, RemoteMessage
from sync.mail.transport import TLS_MODES, Kind, Stage, client_tls_context, map_network_error, text_of, typed_errors
from sync.model.mailbox import FolderWatermark

INBOX = "INBOX"
LIST_ITEMS = ("RFC822.SIZE", "INTERNALDATE")
BODY_ITEM = "BODY.PEEK[]"  # PEEK: reading must not set \Seen in the user's mail client
BODY_KEY = b"BODY[]"  # how the server names the item in its answer
MESSAGE_ID_ITEM = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"
MESSAGE_ID_KEY = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"
DELETED = b"\\Deleted"
FETCH_CHUNK = 1000  # UIDs per FETCH/STORE: keeps a command line well under Dovecot's 64 KiB limit

LOGIN_REFUSED: Kind = (MailAuthenticationError, "AuthenticationFailed", "login refused")
SERVER_BUSY: Kind = (TransientMailError, "ServerUnavailable", "server unavailable")
# RFC 5530 response codes that say more than the command that got them.
RESPONSE_CODES: dict[str, Kind] = {
    **dict.fromkeys(("AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "EXPIRED", "CONTACTADMIN"), LOGIN_REFUSED),
    **dict.fromkeys(("UNAVAILABLE", "SERVERBUG", "INUSE", "LIMIT"), SERVER_BUSY),
    "PRIVACYREQUIRED": (SecureConnectionRequired, "SecureConnectionRequired", "server requires TLS"),
}
REFUSED_AT: dict[Stage, Kind] = {
    "connect": (PermanentMailError, "ProtocolError", "not an IMAP server, or no usable greeting"),
    "login": LOGIN_REFUSED,
    "session": (TransientMailError, "ServerError", "server refused the command"),
}
DROPPED: Kind = (TransientMailError, "ConnectionDropped", "connection dropped")
RESPONSE_CODE = re.compile(r"\[([A-Z][A-Z0-9/-]*)")
# Capabilities of a server that refuses LOGIN on this link: RFC 3501 §6.2.3, and GNU Mailutils' own name for it.
NO_PLAINTEXT_LOGIN = (b"LOGINDISABLED", b"XTLSREQUIRED")


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
    """Opens logged-in IMAP sessions: implicit TLS, STARTTLS, or plaintext only when ``tls == "none"``.

    A password logs in with LOGIN; an OAuth token (``settings.oauth``) with AUTHENTICATE and the first of
    ``sasl_preference`` the server offers (``AUTH=`` capabilities).
    """

    def __init__(self, sasl_preference: tuple[str, ...] = sasl.PREFERENCE) -> None:
        self.sasl_preference = sasl_preference

    def open(self, settings: ConnectionSettings) -> ImapSession:
        if settings.tls not in TLS_MODES:
            raise ValueError(f"unknown TLS mode {settings.tls!r}; expected one of {TLS_MODES}")
        where = f"IMAP {settings.host}:{settings.port}"
        if settings.oauth is not None:
            sasl.check_encrypted(settings.tls, where)
        client: Any = None
        secret = settings.password
        try:
            with typed_errors(map_imap_error, where, secret, "connect"):
                client = _connect(settings)
            if settings.oauth is not None:
                secret = self._bearer_login(client, settings, where)
            else:
                with typed_errors(map_imap_error, where, secret, "login"):
                    _check_login_allowed(client, settings, where)
                    client.login(settings.username, settings.password)
            with typed_errors(map_imap_error, where, secret, "login"):
                # The login's answer carries the capabilities: caching them now spares a round trip later.
                client.capabilities()
        except BaseException:
            if client is not None:
                _shutdown(client)  # a failed login left open makes Dovecot stall the next one (~4 s)
            raise
        return ImapSession(client, where, secret)

    def _bearer_login(self, client: Any, settings: ConnectionSettings, where: str) -> str:
        """AUTHENTICATE with a token (a refused one is replaced once); returns the token that logged in."""
        assert settings.oauth is not None
        with typed_errors(map_imap_error, where, settings.password, "login"):
            offered = [name.decode()[len("AUTH=") :] for name in client.capabilities() if name.startswith(b"AUTH=")]
        mechanism = sasl.choose_mechanism(offered, self.sasl_preference)
        if mechanism is None:
            raise sasl.no_mechanism_error(where, offered)

        def attempt(token: str) -> str:
            exchange = sasl.BearerExchange(mechanism, settings.username, token, settings.host, settings.port)
            with typed_errors(map_imap_error, where, token, "login"):
                try:
                    client.sasl_login(mechanism, exchange)
                except imaplib.IMAP4.error as exc:
                    if _token_refused(exc):
                        raise exchange.refused(text_of(exc)) from None
                    raise
            return token

        return sasl.login_with_token(settings.oauth, attempt, where)


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
        """New messages, oldest UID first; one SELECT and nothing else when nothing arrived.

        ``processed_keys`` is honoured too, although the watermark alone decides on the UID path.
        """
        with self._command():
            inbox = self._select()
            if inbox.exists == 0:
                return []
            if watermark.uid_validity == inbox.uid_validity and watermark.last_uid is not None:
                listed = self._list_after(watermark.last_uid, inbox)
            elif watermark.uid_validity is None and watermark.last_received_on is None:
                listed = self._describe(self._client.search(["ALL"]), inbox)  # a first run: everything is new
            else:
                listed = self._list_again(inbox)
        return [message for message in listed if message.key not in processed_keys]

    def fetch(self, message: RemoteMessage) -> bytes:
        """The raw message, read with BODY.PEEK[] so its \\Seen flag stays as the user left it."""
        uid_validity, uid = parse_key(message.key)
        with self._command():
            inbox = self._inbox or self._select()
        self._check_epoch(uid_validity, inbox)
        with self._command():
            answer = self._client.fetch([uid], [BODY_ITEM])
        body = answer.get(uid, {}).get(BODY_KEY)
        if body is None:
            raise TransientMailError(f"{self._where}: UID {uid} is no longer in the Inbox", code="MessageNotFound")
        return bytes(body)

    def delete(self, messages: list[RemoteMessage]) -> None:
        """Flag the messages \\Deleted and expunge exactly those UIDs.

        With UIDPLUS, UID EXPUNGE of those UIDs. Without it a plain EXPUNGE would also purge what the user
        flagged for deletion, so those flags are set aside around it and put back (RFC 4315 §1). UIDs already
        gone are ignored, and so are keys of an older UIDVALIDITY: such a UID may name another message now,
        and the next listing offers the old one again under its new UID.
        """
        if not messages:
            return
        with self._command():
            inbox = self._inbox if self._inbox is not None and self._inbox.readwrite else self._select()
            if not inbox.readwrite:
                raise PermanentMailError(f"{self._where}: the Inbox is read-only", code="MailboxReadOnly")
            keys = [parse_key(message.key) for message in messages]
            uids = sorted({uid for uid_validity, uid in keys if uid_validity == inbox.uid_validity})
            if not uids:
                return
            uidplus = self._client.has_capability("UIDPLUS")
            for start in range(0, len(uids), FETCH_CHUNK):
                chunk = uids[start : start + FETCH_CHUNK]
                self._client.add_flags(chunk, [DELETED], silent=True)
                if uidplus:
                    self._client.uid_expunge(chunk)
            if not uidplus:
                self._expunge_only(set(uids))

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

    def _select(self) -> _Inbox:
        """SELECT (read-write: see the module docstring); EXAMINE only when the server allows no more."""
        readwrite = True
        try:
            answer = self._client.select_folder(INBOX, readonly=False)
        except imaplib.IMAP4.readonly:  # SELECT answered [READ-ONLY]: listing and reading still work
            readwrite = False
            answer = self._client.select_folder(INBOX, readonly=True)
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
        if inbox.uid_next is not None and inbox.uid_next - last_uid - 1 <= FETCH_CHUNK:
            # The candidate UIDs are known: one UID FETCH of them, no SEARCH (UIDs never used are just absent).
            # GNU Mailutils also answers "SEARCH UID" wrongly once UIDs and sequence numbers differ.
            return self._describe(list(range(last_uid + 1, inbox.uid_next)), inbox)
        # "n:*" always matches the highest UID, even when it is below n (RFC 3501 §6.4.8): filter it out.
        uids = [uid for uid in self._client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid]
        if not uids:  # the server may have answered the UID range wrongly (Mailutils): ask for every UID
            uids = [uid for uid in self._client.search(["ALL"]) if uid > last_uid]
        return self._describe(uids, inbox)

    def _list_again(self, inbox: _Inbox) -> list[RemoteMessage]:
        """After a UIDVALIDITY change: every message, with its Message-ID, as a revisit (see the module docstring)."""
        return self._describe(self._client.search(["ALL"]), inbox, revisit=True)

    def _describe(self, uids: list[int], inbox: _Inbox, *, revisit: bool = False) -> list[RemoteMessage]:
        ordered = sorted(set(uids))
        items_wanted = [*LIST_ITEMS, MESSAGE_ID_ITEM] if revisit else list(LIST_ITEMS)
        listed: list[RemoteMessage] = []
        for start in range(0, len(ordered), FETCH_CHUNK):
            answer = self._client.fetch(ordered[start : start + FETCH_CHUNK], items_wanted)
            for uid in sorted(answer):  # a UID expunged meanwhile is simply absent
                items = answer[uid]
                internal_date = items.get(b"INTERNALDATE")
                listed.append(
                    RemoteMessage(
                        key=message_key(inbox.uid_validity, uid),
                        size=int(items.get(b"RFC822.SIZE", 0)),
                        received_on=_as_utc(internal_date) if internal_date is not None else None,
                        uid=uid,
                        message_id=_message_id(items.get(MESSAGE_ID_KEY)) if revisit else None,
                        revisit=revisit,
                    )
                )
        return listed

    def _expunge_only(self, uids: set[int]) -> None:
        """EXPUNGE without UIDPLUS: the user's other \\Deleted messages are unflagged around it, then flagged again."""
        others = sorted(set(self._client.search(["DELETED"])) - uids)
        if others:
            self._client.remove_flags(others, [DELETED], silent=True)
        try:
            self._client.expunge()
        finally:
            if others:
                self._client.add_flags(others, [DELETED], silent=True)

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


def _token_refused(exc: imaplib.IMAP4.error) -> bool:
    """A NO to AUTHENTICATE that is about the token, not a busy server or a dropped link."""
    if isinstance(exc, imaplib.IMAP4.abort) or isinstance(exc.__context__, imaplib.IMAP4.abort):
        return False
    found = RESPONSE_CODE.search(text_of(exc))
    return found is None or RESPONSE_CODES.get(found.group(1)) is LOGIN_REFUSED


def _check_login_allowed(client: Any, settings: ConnectionSettings, where: str) -> None:
    """Refuse before sending the password in the clear when the server said it will not take it."""
    if settings.tls != "none":
        return
    refused = [name.decode() for name in NO_PLAINTEXT_LOGIN if client.has_capability(name.decode())]
    if refused:
        raise SecureConnectionRequired(
            f"{where}: the server refuses login without TLS ({refused[0]}); use implicit TLS or STARTTLS",
            code="SecureConnectionRequired",
        )


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


def _message_id(header: bytes | None) -> str | None:
    """The Message-ID from a ``HEADER.FIELDS (MESSAGE-ID)`` answer; ``None`` when the message has none."""
    if not header:
        return None
    value = BytesHeaderParser().parsebytes(header).get("Message-ID")
    return str(value).strip() or None if value is not None else None


def _as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive time is taken as UTC, as everything this project stores is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
