"""The admin API's front door: who is calling, and how much they send, before any body is parsed.

FastAPI reads and parses a JSON body before it runs a route's dependencies, so without this layer an anonymous
caller learns from a 422 what a route expects, and any caller can make the app buffer a body of any size. This
ASGI middleware therefore, for every route but the open ones (and Graph's push routes, which skip step 1):

1. authenticates the caller (API key or Entra ID token, :mod:`sync.api.auth`): 401 before anything else, and
   the principal is handed to the route's role check so the credentials are not verified twice;
2. refuses a body over ``SYNC_API_MAX_BODY_BYTES`` with 413, from ``Content-Length`` when it is sent and by
   counting the bytes as they arrive when it is not (chunked), so an oversized body is never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

from sync.api.auth import API_KEY_HEADER, PRINCIPAL_STATE, Authenticator, Principal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

OAUTH_CALLBACK_PATH = "/api/oauth/callback"  # the identity provider redirects a browser here: its state authenticates
OPEN_PATHS = frozenset({"/api/health", "/api/openapi.json", OAUTH_CALLBACK_PATH})
OPEN_PREFIXES = ("/api/docs",)  # the documentation page and its assets
CONSOLE_PREFIX = "/console"  # the browser console authenticates its own requests (sessions, sync.console.access)
PUSH_PATHS = frozenset({"/api/push/graph", "/api/push/graph/lifecycle"})  # Graph calls these: see below


def is_push(path: str) -> bool:
    """Graph's change notifications: no API key or token (Graph has none of ours), each notification is
    authenticated by its subscription's clientState instead (``sync/push/receiver.py``); the body limit holds."""
    return path in PUSH_PATHS


def is_open(path: str) -> bool:
    """Routes this door does not guard: the health probe, the API docs, the OAuth callback and the console.

    The consent callback is authenticated by its one-time state, the console by its own sessions.
    """
    return (
        path in OPEN_PATHS
        or path.startswith(OPEN_PREFIXES)
        or path == CONSOLE_PREFIX
        or path.startswith(f"{CONSOLE_PREFIX}/")
    )


class FrontDoor:
    """ASGI middleware: authenticate first, then let at most ``max_body_bytes`` of body through."""

    def __init__(self, app: App, authenticator: Authenticator, max_body_bytes: int) -> None:
        self.app = app
        self.authenticator = authenticator
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_open(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        if not is_push(scope.get("path", "")):
            try:
                principal = self._authenticate(headers)
            except HTTPException as denied:
                await _answer(send, denied.status_code, str(denied.detail), dict(denied.headers or {}))
                return
            scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _answer(send, 413, self._too_large())
            return
        received = 0
        started = refused = False

        async def counted_receive() -> Message:
            """Past the limit: answer 413 at once and tell the app the client left, so it stops reading."""
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not started:
                    refused = True
                    await _answer(send, 413, self._too_large())
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # the app's own answer to the disconnect: the client already has its 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)

    def _authenticate(self, headers: dict[str, str]) -> Principal:
        key = headers.get(API_KEY_HEADER.lower())
        if key:
            return self.authenticator.from_api_key(key)
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return self.authenticator.from_bearer(token.strip())
        raise HTTPException(
            401,
            f"authentication required: send an {API_KEY_HEADER} header or an 'Authorization: Bearer' Entra ID token",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes} bytes (SYNC_API_MAX_BODY_BYTES)"


async def _answer(send: Send, status_code: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items()
    ]
    await send({"type": "http.response.start", "status": status_code, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
