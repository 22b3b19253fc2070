"""A Microsoft Graph mail endpoint for tests: HTTPS on loopback, real tokens, Graph's JSON, injectable faults.

No real Exchange Online can run here, so this server speaks the part of Graph v1.0 a mail sync uses (see
``routes.py``) over TLS with a certificate of the test CA, checks bearer tokens against the Entra ID
stand-in's keys, and keeps its mailboxes in memory (``state.py``). Tests drive it through the methods below:
put mail in, look at what the client did (``calls``, ``sent_messages``, ``max_concurrent``), and arm faults
(``fail_next``, ``drop_connection_next``, ``expire_delta_links``)::

    with GraphServer(ca, jwks_url) as graph:
        graph.add_mailbox("alice@example.test")
        graph.deliver("alice@example.test", mime)
        client = GraphClient(token, base_url=graph.base_url, ca_file=str(ca.ca_cert))
"""

from __future__ import annotations

import contextlib
import datetime
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

from devstack.certs import SERVER_HOSTNAME, TestCA
from devstack.ports import LOOPBACK
from tests.graph import routes
from tests.graph.api import ApiError, Context, Reply, Request
from tests.graph.auth import GRAPH_AUDIENCE, BearerCheck
from tests.graph.faults import Faults
from tests.graph.notifications import Notifier
from tests.graph.pim_state import CALENDAR, CONTACTS, PimItem, parse_occurrence_id
from tests.graph.pim_wire import render_moment
from tests.graph.state import ROOT, GraphState, Message, SentMessage
from tests.graph.traffic import MAILBOX_CONCURRENCY, Call, Traffic

VERSION = "/v1.0"
THROTTLED_RETRY_AFTER_S = "1"  # what Outlook typically asks after a MailboxConcurrency 429
JOIN_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.02  # how fast stop() returns; the default 0.5 s would add up over a test session


class GraphServer:
    """Between ``start()`` and ``stop()`` (or as a context manager) Graph answers at ``base_url``."""

    def __init__(
        self,
        ca: TestCA,
        jwks_url: str,
        *,
        audience: str = GRAPH_AUDIENCE,
        mailbox_concurrency: int | None = MAILBOX_CONCURRENCY,
    ) -> None:
        self.ca = ca
        self.state = GraphState()
        self.latency_s = 0.0  # added to every handled call, so concurrent calls overlap measurably
        self._auth = BearerCheck(jwks_url, ca.ca_cert, audience)
        self._faults = Faults()
        self._traffic = Traffic(mailbox_concurrency)
        self.notifier = Notifier()  # subscriptions; notifies the changes made through the methods below
        self._context = Context(self.state, self._dispatch, self.notifier)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the Graph test server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"https://{SERVER_HOSTNAME}:{self.port}{VERSION}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        handler = type("BoundHandler", (_Handler,), {"graph": self})
        httpd = _HTTPServer((LOOPBACK, 0), handler)
        # The TLS handshake runs in each request's thread, so one stuck client cannot block accept().
        httpd.socket = self.ca.ssl_server_context().wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(POLL_INTERVAL_S,), name="graph-test-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_S)
        self._httpd, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- mailboxes -------------------------------------------------------------------------------------

    def add_mailbox(self, address: str) -> None:
        self.state.add_mailbox(address)

    def deliver(
        self,
        address: str,
        mime: bytes,
        folder: str = "inbox",
        categories: Sequence[str] = (),
        received: datetime.datetime | None = None,
    ) -> str:
        """Puts a message into a folder (well-known name or id) as if it had arrived (and notifies); returns its id."""
        message_id = self.state.deliver(address, mime, folder, categories=categories, received=received).id
        self.notifier.changed(address, "messages", message_id)
        return message_id

    def folder_id(self, address: str, folder: str) -> str:
        return self.state.folder(address, folder).id

    def create_folder(self, address: str, name: str, parent: str = ROOT, folder_id: str | None = None) -> str:
        return self.state.create_folder(address, name, parent, folder_id).id

    def rename_folder(self, address: str, folder: str, name: str) -> None:
        self.state.rename_folder(address, folder, name)

    def move_folder(self, address: str, folder: str, parent: str) -> None:
        self.state.move_folder(address, folder, parent)

    def messages(self, address: str, folder: str = "inbox") -> list[Message]:
        return self.state.messages(address, folder)

    def sent_messages(self, address: str | None = None) -> list[SentMessage]:
        """What left through sendMail or send, in order, whether or not a copy was saved to Sent Items."""
        return self.state.sent(address)

    # --- calendar, contacts, To Do (what Outlook would do) ---------------------------------------------

    def pim_items(self, address: str, kind: str) -> list[PimItem]:
        """The mailbox's "event", "contact" or "todoTask" items, oldest first."""
        with self.state.pim(address) as pim:
            return sorted((i for i in pim.items.values() if i.kind == kind), key=lambda i: i.created)

    def add_event(
        self, address: str, subject: str, start: datetime.datetime, end: datetime.datetime, *,
        categories: Sequence[str] = (), time_zone: str = "UTC", item_id: str | None = None,
        extended: Mapping[str, str] | None = None, **more: Any,
    ) -> str:  # fmt: skip
        """An event the user made in Outlook; ``more`` are further Graph properties (e.g. ``recurrence``);
        ``item_id`` and ``extended`` (extended properties by id) for an event another API made."""
        data = {
            "subject": subject, "start": render_moment(start, time_zone), "end": render_moment(end, time_zone),
            "categories": list(categories), "_organizer": {"name": address, "address": address}, **more,
        }  # fmt: skip
        with self.state.pim(address) as pim:
            event_id = pim.add("event", CALENDAR, data, dict(extended or {}), item_id=item_id).id
        self.notifier.changed(address, "events", event_id)
        return event_id

    def add_contact(self, address: str, categories: Sequence[str] = (), **data: Any) -> str:
        with self.state.pim(address) as pim:
            contact_id = pim.add("contact", CONTACTS, {**data, "categories": list(categories)}, {}).id
        self.notifier.changed(address, "contacts", contact_id)
        return contact_id

    def edit(self, address: str, item_id: str, **changes: Any) -> None:
        """The user changes Graph properties of an item in Outlook (an occurrence id makes an exception)."""
        with self.state.pim(address) as pim:
            occurrence = parse_occurrence_id(item_id)
            if occurrence is not None:
                series = pim.items[occurrence[0]]
                series.exceptions[occurrence[1]] = {**series.exceptions.get(occurrence[1], {}), **changes}
                pim.touch(series)
                return
            item = pim.items[item_id]
            item.data = {**item.data, **changes}
            pim.touch(item)

    def remove(self, address: str, item_id: str) -> None:
        """The user deletes an item (an occurrence id cancels that day of its series)."""
        with self.state.pim(address) as pim:
            occurrence = parse_occurrence_id(item_id)
            if occurrence is not None:
                series = pim.items[occurrence[0]]
                series.cancelled.add(occurrence[1])
                pim.touch(series)
            else:
                pim.remove(pim.items[item_id])

    def invitations(self, address: str) -> list[tuple[str, str]]:
        """(event id, what) for each message Graph sent to an event's attendees: invitation, update, cancellation."""
        return self.state.invitations(address)

    # --- observation -----------------------------------------------------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """Calls per route name (see ``routes.NAMES``), sub-requests of a batch included."""
        return self._traffic.counts()

    @property
    def call_log(self) -> list[Call]:
        return self._traffic.calls

    def reset_calls(self) -> None:
        self._traffic.reset()

    def max_concurrent(self, address: str | None = None) -> int:
        """The most calls in flight at once for ``address`` (for all mailboxes together when None)."""
        return self._traffic.peak(address)

    # --- faults ----------------------------------------------------------------------------------------

    def fail_next(self, route: str, status: int = 429, retry_after_s: float | None = 1.0, count: int = 1) -> None:
        """The next ``count`` calls of ``route`` get ``status`` with Graph's error body (and Retry-After)."""
        self._faults.fail_next(_known(route), status, retry_after_s, count)

    def drop_connection_next(self, route: str) -> None:
        """The next call of ``route`` is carried out, then the connection closes before any reply."""
        self._faults.drop_next(_known(route))

    def expire_delta_links(self, address: str) -> None:
        """Every delta and next link issued so far for ``address`` is answered 410 from now on."""
        self.state.expire_delta_links(address)

    # --- dispatch --------------------------------------------------------------------------------------

    def _serve(self, req: Request) -> tuple[Reply, bool]:
        """The reply to an HTTP request, and whether to drop the connection instead of sending it."""
        try:
            self._auth.check(req.headers.get("authorization"))
        except ApiError as exc:
            return exc.reply(), False
        route, reply = self._answer(req)
        return reply, route is not None and self._faults.drop(route)

    def _dispatch(self, req: Request) -> Reply:
        """A sub-request of ``$batch``: authenticated with its batch, routed like a direct call."""
        return self._answer(req)[1]

    def _answer(self, req: Request) -> tuple[str | None, Reply]:
        found = routes.match(req.method, req.path)
        if found is None:
            segment = req.path.rstrip("/").rsplit("/", 1)[-1]
            return None, Reply.error(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        route, params = found
        mailbox = params.get("user")
        self._traffic.record(Call(req.method, req.path, route.name, mailbox))
        failure = self._faults.failure(route.name)
        if failure is not None:
            return route.name, failure.reply()
        with self._traffic.in_flight(mailbox) as admitted:
            if self.latency_s:
                time.sleep(self.latency_s)
            if not admitted:
                code, message = "ApplicationThrottled", "Application is over its MailboxConcurrency limit."
                return route.name, Reply.error(429, code, message, {"Retry-After": THROTTLED_RETRY_AFTER_S})
            try:
                return route.name, route.handler(self._context, req, params)
            except ApiError as exc:
                return route.name, exc.reply()


def _known(route: str) -> str:
    if route not in routes.NAMES:
        raise ValueError(f"unknown route {route!r}; known: {sorted(routes.NAMES)}")
    return route


class _HTTPServer(ThreadingHTTPServer):
    """Closes the kept-alive connections on ``server_close``, so no handler thread outlives the server."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or refuses our certificate is a test's business, not a server fault."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            for connection in list(self._open):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    graph: ClassVar[GraphServer]
    protocol_version = "HTTP/1.1"  # keep-alive, as Graph's front door: clients reuse pooled connections
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would hold the body ~40 ms

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the call log is the record."""

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urllib.parse.urlsplit(self.path)
        if not url.path.startswith(VERSION + "/"):
            self._send(Reply.error(400, "BadRequest", f"Invalid version in {url.path}; this server speaks v1.0."))
            return
        request = Request(
            method=self.command,
            path=url.path[len(VERSION) :],
            query=dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            base_url=self.graph.base_url,
        )
        try:
            reply, drop = self.graph._serve(request)
        except Exception as exc:  # a bug in a handler: answer like Graph would rather than hang the client
            reply, drop = Reply.error(500, "ErrorInternalServerError", f"{type(exc).__name__}: {exc}"), False
        if drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("request-id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
