"""The request/reply values every route handler speaks, and Graph's error body.

Handlers never touch sockets: the HTTP server and the ``$batch`` route both turn what arrived into a
:class:`Request` and send back the :class:`Reply`, so a sub-request of a batch runs exactly the code a
direct call runs.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.graph.notifications import Notifier
    from tests.graph.state import GraphState

JSON = "application/json"


class ApiError(Exception):
    """A Graph error answer: ``{"error": {"code": ..., "message": ...}}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def reply(self) -> Reply:
        return Reply.error(self.status, self.code, self.message, self.headers)


@dataclass(frozen=True)
class Request:
    """One Graph call: ``path`` is below ``/v1.0``, header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str  # what the server calls itself in links (``https://localhost:PORT/v1.0``)

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; 400 like Graph's ``RequestBodyRead`` when it is not one."""
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ApiError(400, "RequestBodyRead", f"Invalid JSON in the request body: {exc}") from None
        if not isinstance(value, dict):
            raise ApiError(400, "RequestBodyRead", "The request body must be a JSON object.")
        return value

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_json(cls, status: int, value: Any, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(value).encode(), JSON, dict(headers or {}))

    @classmethod
    def error(cls, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> Reply:
        return cls.of_json(status, error_body(code, message), headers)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def error_body(code: str, message: str) -> dict[str, Any]:
    """Graph's error shape, ``innerError`` included as the service sends it."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": now, "request-id": request_id, "client-request-id": request_id},
        }
    }


@dataclass(frozen=True)
class Context:
    """What a handler may use besides its request: the mailboxes, and the dispatcher for ``$batch``."""

    state: GraphState
    dispatch: Callable[[Request], Reply]
    notifier: Notifier | None = None  # subscriptions and change notifications (``notifications.py``)


Handler = Callable[[Context, Request, Mapping[str, str]], Reply]
