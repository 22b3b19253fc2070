"""An exchangelib ``Account`` for an :class:`EwsEndpoint`: credentials, pinned version and scheme, trust.

exchangelib keeps one protocol (HTTP session pool) per service endpoint and credentials, so building an
Account per cycle is cheap and reuses warm connections. Its retry policy is ``FailFast``: retries and
back-off belong to our health policy and time budget, never to a sleep inside the library.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import certifi
import requests.adapters
from exchangelib import (
    DELEGATE,
    IMPERSONATION,
    Account,
    Configuration,
    Credentials,
    FailFast,
    Version,
)
from exchangelib.protocol import BaseProtocol
from exchangelib.transport import BASIC, NTLM, OAUTH2
from exchangelib.version import EXCHANGE_2013_SP1, EXCHANGE_O365

from sync.auth.tokens import AccessToken
from sync.mail.egress_http import use_checked_pools
from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError
from sync.mail.ews.credentials import MsalCredentials
from sync.mail.ews.endpoint import EwsAuth, EwsEndpoint, EwsVersion, OAuthApp
from sync.mail.ews.errors import translate

BUILDS = {EwsVersion.EXCHANGE_2013_SP1: EXCHANGE_2013_SP1, EwsVersion.EXCHANGE_ONLINE: EXCHANGE_O365}
AUTH_TYPES = {EwsAuth.BASIC: BASIC, EwsAuth.NTLM: NTLM, EwsAuth.OAUTH: OAUTH2}


class TokenSource(Protocol):
    """App-only access tokens (``sync/auth/tokens.py``)."""

    def token(self, tenant_id: str, client_id: str, client_secret: str, scope: str) -> AccessToken: ...


@dataclass(frozen=True)
class AppToken:
    """The token fetch of one app registration. Equal apps give equal fetches, so exchangelib's protocol
    cache (keyed by credentials) keeps one connection pool per app, not one per cycle."""

    tokens: TokenSource
    app: OAuthApp

    def __call__(self) -> AccessToken:
        app = self.app
        return self.tokens.token(app.tenant_id, app.client_id, app.client_secret, app.scope)


def open_account(endpoint: EwsEndpoint, tokens: TokenSource | None, *, max_connections: int) -> Account:
    """The Account of ``endpoint``; sends nothing except for autodiscover and an OAuth token."""
    credentials = _credentials(endpoint, tokens)
    access = IMPERSONATION if endpoint.impersonation else DELEGATE
    if endpoint.url is None:  # autodiscover (R-TE-6): the only case where we let exchangelib find things out
        try:
            return Account(endpoint.address, credentials=credentials, autodiscover=True, access_type=access)
        except Exception as exc:
            cause = translate(exc, what="autodiscover")
            raise PermanentMailError(
                f"the mailbox location of {endpoint.address} could not be determined: {cause}",
                code="AutodiscoverFailed",
            ) from None
    config = Configuration(
        service_endpoint=endpoint.url,
        credentials=credentials,
        auth_type=AUTH_TYPES[endpoint.auth],
        version=Version(build=BUILDS[endpoint.version]),
        retry_policy=FailFast(),
        max_connections=max_connections,
    )
    return Account(endpoint.address, config=config, autodiscover=False, access_type=access)


def _credentials(endpoint: EwsEndpoint, tokens: TokenSource | None) -> Any:
    if endpoint.auth is EwsAuth.OAUTH:
        app = endpoint.oauth
        if app is None or tokens is None:
            raise MailAuthenticationError(
                "OAuth is configured but no token source is available", code="CredentialsMissing"
            )

        try:
            return MsalCredentials(AppToken(tokens, app))
        except MailServerError:
            raise
        except Exception as exc:
            raise translate(exc, what="token") from None
    return Credentials(endpoint.username or "", endpoint.password or "")


# --- HTTP: trust the system CAs plus an extra CA; read responses in large chunks --------------------------------
_lock = threading.Lock()
_bundles: dict[str, str] = {}
READ_CHUNK_BYTES = 64 * 1024  # exchangelib reads responses through iter_content(), one byte at a time by default


class _ChunkedResponse(requests.Response):
    """A response whose default ``iter_content`` chunk is large: exchangelib parses the SOAP stream with the
    default, and at one byte per call a 10 MB GetItem answer costs seconds of CPU (measured 340 ns a byte)."""

    def iter_content(  # the bytes variant of requests' overloads: exchangelib never decodes
        self, chunk_size: int | None = READ_CHUNK_BYTES, decode_unicode: bool = False
    ) -> Iterator[bytes]:
        return super().iter_content(chunk_size, False)


def install_http_adapter(ca_file: str | None) -> None:
    """The HTTP adapter of every EWS connection of the process: large read chunks, and ``ca_file`` trusted
    besides the system CAs. requests lets REQUESTS_CA_BUNDLE override a session's ``verify``; exchangelib's
    adapter hook is the one place that decides for every connection it opens, whatever the environment says.
    """
    bundle = trust_bundle(ca_file) if ca_file is not None else None

    class EwsAdapter(requests.adapters.HTTPAdapter):
        def build_response(self, req: Any, resp: Any) -> requests.Response:
            response = super().build_response(req, resp)
            response.__class__ = _ChunkedResponse
            return response

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            use_checked_pools(self.poolmanager)  # EWS only where the egress policy allows

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, _verify(verify, bundle), cert)

        def get_connection_with_tls_context(
            self, request: Any, verify: Any, proxies: Any = None, cert: Any = None
        ) -> Any:
            return super().get_connection_with_tls_context(request, _verify(verify, bundle), proxies=proxies, cert=cert)

    BaseProtocol.HTTP_ADAPTER_CLS = EwsAdapter


def _verify(asked: Any, bundle: str | None) -> Any:
    """Our bundle unless verification is off (or no extra CA is configured)."""
    return asked if bundle is None or asked is False else bundle


def system_ca_bundle() -> str:
    """The system's CA file (OpenSSL's default, which ``SSL_CERT_FILE`` may name); certifi's when there is none."""
    system = ssl.get_default_verify_paths().cafile
    return system if system and Path(system).is_file() else certifi.where()


def trust_bundle(ca_file: str) -> str:
    """A PEM file of the system CAs plus ``ca_file`` (requests' ``verify`` takes one file), made once per file."""
    with _lock:
        found = _bundles.get(ca_file)
        if found is None:
            text = Path(system_ca_bundle()).read_text() + "\n" + Path(ca_file).read_text()
            handle = tempfile.NamedTemporaryFile("w", prefix="ews-ca-", suffix=".pem", delete=False)  # noqa: SIM115
            with handle:
                handle.write(text)
            found = _bundles[ca_file] = handle.name
        return found
