"""``EwsServer``: a stateful Exchange Web Services endpoint over HTTPS for tests.

It speaks the real SOAP wire format, so exchangelib runs against it unmodified, and it adds a test API:
seeding mailboxes, reading what was sent, counting calls, and injecting the failures a real Exchange
produces (throttling, HTTP errors, per-item errors, lost replies).
"""

from __future__ import annotations

import contextlib
import datetime
import http
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self, cast

from tests.ews import folder_operations, item_operations, soap
from tests.ews.auth import Authenticator
from tests.ews.calendar_shapes import ORGANIZER
from tests.ews.item_operations import SCHEMAS
from tests.ews.operations import Context, Handler
from tests.ews.state import Item, Mailbox, MailStore, SentMessage

PATH = "/EWS/Exchange.asmx"
HANDLERS: dict[str, Handler] = {**folder_operations.HANDLERS, **item_operations.HANDLERS}
BUSY_TEXT = "The server cannot service this request right now. Try again later."


@dataclass(frozen=True)
class Call:
    operation: str
    mailbox: str | None  # the mailbox the request acted on
    anchor_mailbox: str | None  # the X-AnchorMailbox header


class CallLog(Counter[str]):
    """Requests per operation name, and ``log``: every call in order."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Call] = []


@dataclass
class _Fault:
    busy_back_off_ms: int | None = None
    http_status: int | None = None
    item_error: str | None = None
    drop: bool = False


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/xml; charset=utf-8"})


class EwsServer:
    """Mailboxes are served at ``url`` between ``start()`` and ``stop()`` (or as a context manager).

    The request's mailbox is the impersonated one (ExchangeImpersonation), else the one the request's first
    DistinguishedFolderId names (never an attendee's or a recipient's ``t:Mailbox``), else the Basic user's own.
    """

    def __init__(
        self,
        cert: Path,
        key: Path,
        *,
        users: Mapping[str, str] | None = None,
        jwks_url: str | None = None,
        jwks_ssl_context: ssl.SSLContext | None = None,
        issuer: str | None = None,
    ) -> None:
        """``users`` are Basic credentials (username -> password); ``jwks_url`` enables Bearer tokens
        (see ``tests.ews.auth``); ``cert``/``key`` are the PEM files of the HTTPS certificate."""
        self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._tls.load_cert_chain(str(cert), str(key))
        self._auth = Authenticator(users or {}, jwks_url, jwks_ssl_context, issuer)
        self.store = MailStore()
        self.calls = CallLog()
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the EWS server is not running")
        return f"https://localhost:{self._http.server_address[1]}{PATH}"

    def start(self) -> Self:
        if self._http is None:
            self._http = _HttpServer(self)
            self._http.socket = self._tls.wrap_socket(
                self._http.socket, server_side=True, do_handshake_on_connect=False
            )
            self._thread = threading.Thread(
                target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="ews-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http.close_connections()
            self._http = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # test API: state

    def add_mailbox(self, address: str) -> None:
        self.store.add(address)

    def mailbox(self, address: str) -> Mailbox:
        """The state of a mailbox, for what the shortcuts here do not cover."""
        mailbox = self.store.get(address)
        if mailbox is None:
            raise KeyError(f"no mailbox {address} on this server")
        return mailbox

    def deliver(
        self,
        address: str,
        mime: bytes,
        folder: str = "inbox",
        categories: Iterable[str] = (),
        received: datetime.datetime | None = None,
    ) -> str:
        """Put a message into a folder (by id or distinguished name), as if delivered; returns its id."""
        return self.mailbox(address).add_item(folder, mime, received=received, categories=categories).item_id

    def create_folder(self, address: str, parent: str, name: str) -> str:
        return self.mailbox(address).create_folder(parent, name).folder_id

    def rename_folder(self, address: str, folder: str, name: str) -> None:
        self.mailbox(address).update_folder(folder, name=name)

    def move_folder(self, address: str, folder: str, parent: str) -> None:
        self.mailbox(address).update_folder(folder, parent=parent)

    def create_calendar_item(
        self, address: str, *, folder: str | None = None, categories: Iterable[str] = (), organizer: str | None = None,
        **fields: object,
    ) -> str:  # fmt: skip
        """Add an appointment as the user would in Outlook (to Calendar unless ``folder`` is given); returns
        its id. ``fields`` are exchangelib's field names with the values of ``Item.extra``, e.g. ``start=``
        an aware datetime, ``start_timezone=TimeZone("W. Europe Standard Time")``, ``required_attendees=
        [Attendee("bob@example.test")]``, ``recurrence=Recurrence(...)`` (see ``tests.ews.values``).
        ``organizer`` makes it a meeting someone else organizes, which the user was invited to."""
        item_id = self._create(address, "CalendarItem", folder, categories, fields)
        if organizer is not None:
            self.mailbox(address).item(item_id).extra[ORGANIZER] = organizer
        return item_id

    def create_contact(
        self, address: str, *, folder: str | None = None, categories: Iterable[str] = (), **fields: object
    ) -> str:
        """Add a contact, e.g. ``email_addresses={"EmailAddress1": "x@example.test"}``; returns its id."""
        return self._create(address, "Contact", folder, categories, fields)

    def create_task(
        self, address: str, *, folder: str | None = None, categories: Iterable[str] = (), **fields: object
    ) -> str:
        """Add a task, e.g. ``status="InProgress", percent_complete=50.0``; returns its id."""
        return self._create(address, "Task", folder, categories, fields)

    def update_item_fields(
        self, address: str, item_id: str, *, categories: Iterable[str] | None = None, **fields: object
    ) -> None:
        """Change a calendar item, contact or task as the user would; a field set to None is removed. The
        item gets a new change key and a sync reports it as an Update."""
        mailbox = self.mailbox(address)
        mailbox.update_item(item_id, categories=categories, fields=_typed(mailbox.item(item_id).item_type, fields))

    def _create(
        self, address: str, kind: str, folder: str | None, categories: Iterable[str], fields: dict[str, object]
    ) -> str:
        mailbox = self.mailbox(address)
        return mailbox.create_item(kind, _typed(kind, fields), folder=folder, categories=categories).item_id

    def delete_item(self, address: str, item_id: str) -> None:
        self.mailbox(address).delete_item(item_id)

    def folder_id(self, address: str, folder: str) -> str:
        return self.mailbox(address).folder(folder).folder_id

    def items(self, address: str, folder: str) -> list[Item]:
        """Snapshots of the items of a folder, newest first."""
        return self.mailbox(address).folder_items(folder)

    @property
    def sent_messages(self) -> list[SentMessage]:
        with self.store.lock:
            return list(self.store.sent)

    def reset_calls(self) -> None:
        with self._lock:
            self.calls = CallLog()

    # test API: failures

    def fail_next(
        self,
        operation: str,
        *,
        busy_back_off_ms: int | None = None,
        http_status: int | None = None,
        item_error: str | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` requests of ``operation`` fail in exactly one way: ErrorServerBusy with
        this back-off, this HTTP status, or this ResponseCode for the first item the request names."""
        if sum(option is not None for option in (busy_back_off_ms, http_status, item_error)) != 1:
            raise ValueError("give exactly one of busy_back_off_ms, http_status and item_error")
        self._queue(operation, _Fault(busy_back_off_ms, http_status, item_error), count)

    def drop_connection_next(self, operation: str) -> None:
        """Carry out the next request of ``operation``, then close the connection without a reply."""
        self._queue(operation, _Fault(drop=True), 1)

    def _queue(self, operation: str, fault: _Fault, count: int) -> None:
        with self._lock:
            self._faults.setdefault(operation, []).extend([fault] * count)

    def _next_fault(self, operation: str) -> _Fault:
        with self._lock:
            queued = self._faults.get(operation)
            return queued.pop(0) if queued else _Fault()

    # request handling

    def _challenge(self) -> _Reply:
        return _Reply(http.HTTPStatus.UNAUTHORIZED, headers={"WWW-Authenticate": self._auth.challenge})

    def _status(self, status: int) -> _Reply:
        if status == http.HTTPStatus.UNAUTHORIZED:
            return self._challenge()
        return _Reply(status, http.HTTPStatus(status).phrase.encode(), {"Content-Type": "text/plain"})

    def _answer(self, authorization: str, anchor: str | None, data: bytes) -> _Reply | None:
        """Answer one POST; None means: close the connection without answering."""
        caller = self._auth.caller(authorization)
        if caller is None:
            return self._challenge()
        try:
            request = soap.parse_request(data)
            address = request.impersonated or request.mailbox or caller
            with self._lock:
                self.calls[request.operation] += 1
                self.calls.log.append(Call(request.operation, address, anchor))
            fault = self._next_fault(request.operation)
            if fault.http_status is not None:
                return self._status(fault.http_status)
            if fault.busy_back_off_ms is not None:
                raise soap.SoapFault("ErrorServerBusy", BUSY_TEXT, back_off_ms=fault.busy_back_off_ms)
            body = self._dispatch(request, address, fault.item_error)
        except soap.SoapFault as problem:
            return _Reply(http.HTTPStatus.INTERNAL_SERVER_ERROR, soap.fault(problem))
        return None if fault.drop else _Reply(http.HTTPStatus.OK, body)

    def _dispatch(self, request: soap.Request, address: str | None, item_error: str | None) -> bytes:
        mailbox = None if address is None else self.store.get(address)
        if mailbox is None:
            raise soap.SoapFault("ErrorNonExistentMailbox", f"No mailbox with SMTP address {address} exists.")
        handler = HANDLERS.get(request.operation)
        if handler is None:
            raise soap.SoapFault(
                "ErrorInvalidOperation", f"The EWS test server does not implement the {request.operation} operation."
            )
        try:
            with self.store.lock:
                messages = handler(Context(self.store, mailbox, request.operation, item_error), request.body)
        except Exception as e:  # a bug in a handler: say so in the reply rather than cut the connection
            raise soap.SoapFault("ErrorInternalServerError", f"{request.operation} failed: {e!r}") from e
        return soap.envelope(soap.response(request.operation, messages))


def _typed(kind: str, fields: dict[str, object]) -> dict[str, object]:
    """``fields`` checked against the properties of ``kind``, with lists made tuples as the store keeps them."""
    if kind not in SCHEMAS:
        raise ValueError(f"a {kind} has no fields to set; only calendar items, contacts and tasks have")
    if unknown := set(fields) - SCHEMAS[kind].names:
        raise ValueError(f"a {kind} has no field(s) {sorted(unknown)}; known: {sorted(SCHEMAS[kind].names)}")
    return {name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()}


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, ews: EwsServer) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.ews = ews
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        """Cut kept-alive client connections, so no handler thread outlives the server."""
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):  # already closed by the client
                    connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and no "Connection: close" (exchangelib reads it as busy)
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    timeout = 30

    @property
    def _server(self) -> _HttpServer:
        return cast(_HttpServer, self.server)

    def setup(self) -> None:
        super().setup()
        with self._server.connections_lock:
            self._server.connections.add(self.connection)

    def finish(self) -> None:
        with self._server.connections_lock:
            self._server.connections.discard(self.connection)
        super().finish()

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.split("?")[0].lower() != PATH.lower():
            reply: _Reply | None = _Reply(http.HTTPStatus.NOT_FOUND)
        else:
            reply = self._server.ews._answer(
                self.headers.get("Authorization", ""), self.headers.get("X-AnchorMailbox"), data
            )
        if reply is None:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests assert on ``EwsServer.calls`` instead."""
