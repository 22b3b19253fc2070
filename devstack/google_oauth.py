"""A local Google-style OAuth 2.0 server over HTTPS (the grants are in ``google_oauth_grants``).

Paths as Google serves them, on one host: ``/token`` (oauth2.googleapis.com), ``/o/oauth2/v2/auth``
(accounts.google.com), ``/revoke``, ``/oauth2/v3/certs`` (the JWKS) and the OpenID discovery document. The
authorize endpoint consents at once for the ``login_hint`` (or :attr:`GoogleGrants.signed_in`) and answers
302 to the redirect URI, so a test completes the flow by following one ``Location`` header, no browser.

It runs in a thread of the process that starts it (the tests, or the local stack), on a free loopback port,
with the test CA's server certificate. It logs nothing: query strings carry codes and states.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from devstack.certs import SERVER_HOSTNAME, TestCA
from devstack.google_oauth_grants import JWT_BEARER, MAIL_SCOPE, GoogleGrants
from devstack.ports import LOOPBACK, free_port

TOKEN_PATH = "/token"
AUTHORIZE_PATH = "/o/oauth2/v2/auth"
REVOKE_PATH = "/revoke"
JWKS_PATH = "/oauth2/v3/certs"
DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_FORM_BYTES = 64 * 1024


class GoogleOAuthServer:
    """The server; :attr:`grants` holds its accounts, clients and tokens (tests set them up there)."""

    def __init__(self, ca: TestCA, *, audience: str = MAIL_SCOPE) -> None:
        self.ca = ca
        self.port = free_port()
        self.grants = GoogleGrants(self.issuer, self.token_url, audience=audience)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        return f"https://{SERVER_HOSTNAME}:{self.port}"

    @property
    def token_url(self) -> str:
        return self.issuer + TOKEN_PATH

    @property
    def authorize_url(self) -> str:
        return self.issuer + AUTHORIZE_PATH

    @property
    def jwks_url(self) -> str:
        return self.issuer + JWKS_PATH

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorize_url,
            "token_endpoint": self.token_url,
            "revocation_endpoint": self.issuer + REVOKE_PATH,
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", JWT_BEARER],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer((LOOPBACK, self.port), _Handler)
        server.daemon_threads = True
        context = self.ca.ssl_server_context()
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="google-oauth", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GoogleOAuthLocal/1"

    @property
    def owner(self) -> GoogleOAuthServer:
        owner: GoogleOAuthServer = self.server.owner  # type: ignore[attr-defined]
        return owner

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a request line carries codes and states."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        grants = self.owner.grants
        if url.path == DISCOVERY_PATH:
            self._json(200, self.owner.discovery())
        elif url.path == JWKS_PATH:
            self._json(200, grants.jwks())
        elif url.path == AUTHORIZE_PATH:
            status, answer = grants.authorize(dict(parse_qsl(url.query)))
            if status == 302 and isinstance(answer, str):
                self._send(302, b"", {"Location": answer})
            else:
                self._json(status, answer if isinstance(answer, dict) else {})
        else:
            self._json(404, {"error": "not_found", "error_description": url.path})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            self._json(413, {"error": "invalid_request", "error_description": "Request too large."})
            return
        form = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
        form.update(parse_qsl(url.query))
        if url.path == TOKEN_PATH:
            self._json(*self.owner.grants.token(form, _basic(self.headers.get("Authorization", ""))))
        elif url.path == REVOKE_PATH:
            self._json(*self.owner.grants.revoke(form.get("token", "")))
        else:
            self._json(404, {"error": "not_found", "error_description": url.path})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode("utf-8"), {"Content-Type": "application/json; charset=utf-8"})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body)), "Cache-Control": "no-store"}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _basic(header: str) -> tuple[str, str] | None:
    """HTTP Basic client authentication (RFC 6749 §2.3.1), or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        client_id, _, secret = base64.b64decode(value).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return client_id, secret
