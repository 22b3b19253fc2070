"""A thin Microsoft Graph client over ``requests``: pooled, bounded per mailbox, typed errors, no hidden waits.

Why not Microsoft's SDK: ``docs/graph-client.md`` (import time, per-call cost, install size, measured).

- **No sleeping, no retrying.** A 429/503 becomes :class:`GraphThrottled` with Graph's Retry-After; the
  worker that holds the mailbox decides whether waiting fits its time box or the mailbox is requeued.
- **At most ``max_concurrent`` requests in flight per mailbox** (Outlook allows 4 per app and mailbox and
  answers the fifth 429), so extra threads wait on a semaphore instead of earning throttling.
- **Paging is the caller's loop.** :meth:`GraphClient.pages` yields each page, so a delta sync can save the
  ``@odata.nextLink`` / ``@odata.deltaLink`` after every page and resume there after a timeout.
- **Links are followed only on the base URL's origin**, so the bearer token never leaves for another host.
- **One session per process and CA**, so every mailbox of a worker shares the connection pool. Trust is
  set on the adapter (system CAs plus an optional private CA) and ``trust_env`` is off: neither
  ``REQUESTS_CA_BUNDLE`` nor proxy or netrc variables can change where or how we connect.
"""

from __future__ import annotations

import base64
import re
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from sync.mail.egress_http import use_checked_pools
from sync.mail.errors import MailServerError, PermanentMailError
from sync.mail.graph.errors import error_for, transport_error

GRAPH_V1 = "https://graph.microsoft.com/v1.0"
MAX_CONCURRENT_PER_MAILBOX = 4  # Outlook's limit of concurrent requests per app and mailbox
BATCH_LIMIT = 20  # requests per JSON batch
POOL_SIZE = 32  # pooled connections per host: 8 mailboxes at 4 requests each in one worker
TIMEOUT_S = (10.0, 60.0)  # connect, read: a 35 MB $value over a slow link still fits
MAILBOX = re.compile(r"/users(?:/|\(')([^/?'()]+)", re.IGNORECASE)
JSON = "application/json"

_sessions: dict[str | None, requests.Session] = {}
_sessions_lock = threading.Lock()


@dataclass(frozen=True)
class BatchRequest:
    method: str
    url: str  # relative to the version, as Graph wants it: "/users/{id}/messages/{id}"
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BatchResponse:
    """One answer of a batch. Failures are values (``error()``), so one bad item never hides the others."""

    status: int
    body: Any
    headers: Mapping[str, str]
    where: str

    def error(self) -> MailServerError | None:
        return error_for(self.status, self.body, self.headers, self.where) if self.status >= 400 else None


class GraphClient:
    def __init__(
        self,
        token: Callable[[], str],
        *,
        base_url: str = GRAPH_V1,
        ca_file: str | None = None,
        max_concurrent: int = MAX_CONCURRENT_PER_MAILBOX,
        timeout_s: tuple[float, float] = TIMEOUT_S,
    ) -> None:
        """``token`` is called per request (MSAL serves it from its cache); ``ca_file`` adds a private CA."""
        self._token = token
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        self._session = shared_session(ca_file)
        self._max_concurrent = max_concurrent
        self._timeout = timeout_s
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._slots_lock = threading.Lock()

    def get(
        self, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return _json(self._request("GET", path, params=params, headers=headers))

    def get_bytes(self, path: str) -> bytes:
        """A raw body, e.g. ``/users/{id}/messages/{id}/$value``: the message's MIME."""
        return self._request("GET", path).content

    def post(self, path: str, json: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """None for Graph's bodiless answers (202 of sendMail and send, 204)."""
        response = self._request("POST", path, json=json)
        return _json(response) if response.content else None

    def post_mime(self, path: str, mime: bytes) -> dict[str, Any] | None:
        """A message as MIME (sendMail, create draft): base64 text/plain, the form that keeps our Message-ID."""
        response = self._request("POST", path, data=base64.b64encode(mime), headers={"Content-Type": "text/plain"})
        return _json(response) if response.content else None

    def patch(self, path: str, json: Mapping[str, Any]) -> dict[str, Any]:
        return _json(self._request("PATCH", path, json=json))

    def delete(self, path: str) -> None:
        self._request("DELETE", path)

    def batch(self, calls: Sequence[BatchRequest]) -> list[BatchResponse]:
        """Answers in the order asked, sent in batches of at most 20."""
        answers: list[BatchResponse] = []
        for start in range(0, len(calls), BATCH_LIMIT):
            chunk = calls[start : start + BATCH_LIMIT]
            payload = {"requests": [_batch_item(str(i), r) for i, r in enumerate(chunk)]}
            body = _json(self._request("POST", "/$batch", json=payload, slot=mailbox_key(chunk[0].url)))
            by_id = {str(item.get("id")): item for item in body.get("responses", [])}
            for i, request in enumerate(chunk):
                item = by_id.get(str(i))
                if item is None:
                    raise PermanentMailError(f"POST /$batch: no answer for {request.method} {request.url}")
                where = f"{request.method} {request.url} (in a batch)"
                answers.append(BatchResponse(int(item["status"]), item.get("body"), item.get("headers") or {}, where))
        return answers

    def pages(
        self, path: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Each page of a collection or delta round, following ``@odata.nextLink``; ``headers`` (e.g. ``Prefer:
        odata.maxpagesize=50``) go with every page. The last page holds the ``@odata.deltaLink``, if any."""
        page = self.get(path, params, headers)
        while True:
            yield page
            link = page.get("@odata.nextLink")
            if not link:
                return
            page = self.get(str(link), None, headers)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        data: bytes | None = None,
        slot: str | None = None,
    ) -> requests.Response:
        url = self._url(path)
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        sent = {"Authorization": f"Bearer {self._token()}", "Accept": JSON, **(headers or {})}
        with self._slot(slot if slot is not None else mailbox_key(url)):
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    headers=sent,
                    json=json,
                    data=data,
                    timeout=self._timeout,
                    allow_redirects=False,  # Graph does not redirect API calls; a redirect would leave the checked host
                )
            except requests.RequestException as exc:
                raise transport_error(exc, method, where) from exc
        if response.is_redirect or 300 <= response.status_code < 400:
            raise PermanentMailError(
                f"{where}: HTTP {response.status_code}: redirects are not followed", code="RedirectRefused"
            )
        if response.status_code >= 400:
            raise error_for(response.status_code, _maybe_json(response), response.headers, where)
        return response

    def _url(self, path: str) -> str:
        if not path.lower().startswith(("https://", "http://")):
            return self.base_url + "/" + path.lstrip("/")
        if _origin(path) != self._origin:
            raise PermanentMailError(f"refusing to send the Graph token to {_origin(path)}", code="ForeignLink")
        return path

    def _slot(self, mailbox: str) -> threading.BoundedSemaphore:
        with self._slots_lock:
            if mailbox not in self._slots:
                self._slots[mailbox] = threading.BoundedSemaphore(self._max_concurrent)
            return self._slots[mailbox]


def shared_session(ca_file: str | None) -> requests.Session:
    """The process's session for ``ca_file`` (None: system trust only), created on first use."""
    with _sessions_lock:
        if ca_file not in _sessions:
            context = ssl.create_default_context()
            if ca_file:
                context.load_verify_locations(cafile=ca_file)
            session = requests.Session()
            session.trust_env = False
            adapter = _TrustAdapter(context)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _sessions[ca_file] = session
        return _sessions[ca_file]


class _TrustAdapter(HTTPAdapter):
    """Hands urllib3 our TLS context: system CAs plus the extra one, hostname checks on."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(pool_maxsize=POOL_SIZE, max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context, **pool_kwargs)
        use_checked_pools(self.poolmanager)  # connections only to addresses the egress policy allows


def _batch_item(request_id: str, request: BatchRequest) -> dict[str, Any]:
    item: dict[str, Any] = {"id": request_id, "method": request.method, "url": request.url}
    if request.body is not None:
        item["body"] = dict(request.body)
        item["headers"] = {"Content-Type": JSON}
    return item


def mailbox_key(url: str) -> str:
    """The semaphore key: the mailbox a URL addresses ("" for calls outside any mailbox)."""
    found = MAILBOX.search(urllib.parse.urlsplit(url).path)
    return urllib.parse.unquote(found.group(1)).lower() if found else ""


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def _maybe_json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _json(response: requests.Response) -> dict[str, Any]:
    body = _maybe_json(response)
    if not isinstance(body, dict):
        raise PermanentMailError(f"{response.request.method} {response.url}: expected a JSON object from Graph")
    return body
