"""App-only access tokens for the mail connectors (EWS, Graph) through MSAL's client-credentials flow.

What MSAL 1.39 does for us, and what we add on top:

- ``acquire_token_for_client`` looks in the app's token cache first and calls the token endpoint only on a
  miss. It treats a cached token that expires within 5 minutes as expired, and one past its ``refresh_on``
  (which it sets from Entra's ``refresh_in``) as aging: it asks for a new one and, should that fail, still
  serves the cached token. It refuses ``force_refresh``.
- A token we hand out must outlive the work that carries it, so we want more room than MSAL's 5 minutes:
  a cached token with less than :data:`REFRESH_MARGIN` left is marked aging (``refresh_on`` set to now)
  and asked for again, so MSAL refreshes it with the same fallback.
- ``force_refresh``: a mail server refused a token we handed out (revoked, or expired earlier than it said).
  MSAL has no such switch for this flow, so the app's cached tokens for the scope are removed first and the
  next request goes to Entra.
- MSAL's cache lives in memory; the ``TokenCache`` table keeps it across cold starts. It is sealed with the
  deployment's key and bound to its row and to the client secret that filled it, so a caller holding
  another (wrong) secret never gets the tokens of the right one: it starts with an empty cache and is
  refused by Entra at once. A cold start reads its row once; it is written back only when the cache changed.
- Building an MSAL app costs one request to the tenant's OpenID metadata (MSAL validates the tenant when
  the app is built), so a provider builds each app once: one per (tenant, client id, secret digest), under
  the provider's authority. Build one provider per process and share it.

Failures are typed for the health policy: a refused client (wrong or expired secret, unknown app) is a
:class:`MailAuthenticationError` with code ``InvalidClientCredentials``; no answer, a timeout or a 5xx is
transient; any other refusal is permanent. No message and no log line carries the secret or a token.
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from requests.adapters import HTTPAdapter

from sync.auth.secrets import SecretBox, secret_context
from sync.errors import SecretError, StoreError
from sync.mail.egress_http import use_checked_pools
from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.model.fields import utcnow
from sync.store.account import RequestCounter
from sync.store.names import Table
from sync.store.token_cache import TokenCacheKey, TokenCacheStore

log = logging.getLogger(__name__)

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
REFRESH_MARGIN = timedelta(minutes=10)  # > MSAL's own 5 minutes: a handed-out token outlives a worker run's calls
DEFAULT_TIMEOUT_SECONDS = 10.0  # Entra answers in well under a second; a hung connection must not eat a run
TOKEN_REQUESTS = "entra_token"  # RequestCounter services: the token endpoint...
METADATA_REQUESTS = "entra_metadata"  # ...and the tenant's OpenID metadata (once per app built)

# AADSTS codes of a refused client: wrong secret, app not found in the tenant, expired secret.
INVALID_CLIENT_CODES = frozenset({7000215, 700016, 7000222})
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error"})  # RFC 6749 §4.1.2.1: try again later
_AADSTS = re.compile(r"AADSTS(\d+)")


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires; the value never shows in a repr or a log line."""

    value: str = field(repr=False)
    expires_on: datetime


def cache_context(key: TokenCacheKey, client_secret: str) -> bytes:
    """What a sealed cache is bound to: its row, and a digest of the secret whose tokens it holds."""
    return secret_context(Table.TOKEN_CACHE.value, key.record_id, f"msal_cache:{_digest(client_secret)}")


def error_from_result(result: Mapping[str, Any], tenant_id: str, client_id: str) -> MailServerError:
    """The typed error for an MSAL error result (``{"error": ..., "error_description": ...}``)."""
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "").strip().splitlines()
    detail = f"{error}: {description[0]}" if description else error
    codes = {int(code) for code in result.get("error_codes") or [] if isinstance(code, int)}
    codes |= {int(code) for code in _AADSTS.findall(str(result.get("error_description") or ""))}
    where = f"app {client_id} in tenant {tenant_id}"
    if error == "invalid_client" or codes & INVALID_CLIENT_CODES:
        return MailAuthenticationError(
            f"Microsoft Entra ID refused the client id or secret of {where} ({detail}); "
            "check the OAuth client id and secret of the email server profile",
            code="InvalidClientCredentials",
        )
    if error in TRANSIENT_ERRORS:
        return TransientMailError(
            f"Microsoft Entra ID could not issue a token for {where} now ({detail})",
            code="IdentityProviderUnavailable",
        )
    return PermanentMailError(f"Microsoft Entra ID refused a token for {where} ({detail})", code="TokenRequestRefused")


def error_from_exception(exc: Exception, authority: str) -> MailServerError:
    """The typed error for what MSAL raises: requests' network errors, or ValueError for what it cannot use."""
    if isinstance(exc, requests.exceptions.SSLError) and any(
        isinstance(cause, ssl.SSLCertVerificationError) for cause in _causes(exc)
    ):
        return PermanentMailError(
            f"the certificate of the identity provider {authority} is not trusted: {exc}",
            code="SecureConnectionFailed",
        )
    if isinstance(exc, requests.RequestException):
        return TransientMailError(
            f"the identity provider {authority} did not answer ({type(exc).__name__}: {exc})",
            code="IdentityProviderUnavailable",
        )
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return PermanentMailError(
        f"the identity provider {authority} cannot be used for this tenant: {first_line}", code="InvalidAuthority"
    )


class TokenProvider:
    """Access tokens per (tenant, app, scope), cached in memory and, sealed, in Table storage."""

    def __init__(
        self,
        cache_store: TokenCacheStore,
        box: SecretBox,
        authority_host: str | None = None,
        ca_file: str | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        counter: RequestCounter | None = None,
    ) -> None:
        self.cache_store = cache_store
        self.box = box
        self.authority_host = (authority_host or DEFAULT_AUTHORITY).rstrip("/")
        self.counter = counter or RequestCounter()
        self._http = _http_session(ca_file, timeout_seconds, self.counter)
        self._apps: dict[tuple[str, str, str], _App] = {}
        self._apps_lock = threading.Lock()

    def token(
        self, tenant_id: str, client_id: str, client_secret: str, scope: str, *, force_refresh: bool = False
    ) -> AccessToken:
        """A token for ``scope`` (such as ``https://outlook.office365.com/.default``) with the app's own rights;
        with ``force_refresh``, never one from the cache."""
        app = self._app(tenant_id, client_id, client_secret)
        with app.lock:  # one miss costs one request, not one per waiting thread
            try:
                client = app.client or self._build(app, client_secret)
                if force_refresh:
                    _forget(app.cache, scope)
                result = client.acquire_token_for_client(scopes=[scope])
                if _expires_soon(result):
                    _mark_aging(app.cache, result["access_token"])
                    result = client.acquire_token_for_client(scopes=[scope])
            except (requests.RequestException, ValueError) as exc:
                # from None: requests' exceptions carry the request, whose body holds the secret
                raise error_from_exception(exc, self.authority_host) from None
            if not result or "access_token" not in result:
                raise error_from_result(result or {}, tenant_id, client_id)
            self._write_back(app)
        return AccessToken(result["access_token"], utcnow() + timedelta(seconds=int(result.get("expires_in", 0))))

    def _app(self, tenant_id: str, client_id: str, client_secret: str) -> _App:
        with self._apps_lock:
            entry = (tenant_id, client_id, _digest(client_secret))
            if entry not in self._apps:
                key = TokenCacheKey(self.authority_host, tenant_id, client_id)
                self._apps[entry] = _App(key, cache_context(key, client_secret))
            return self._apps[entry]

    def _build(self, app: _App, client_secret: str) -> Any:
        """The MSAL app (one metadata request), then its cache from the store: what a cold start costs."""
        custom = {} if self.authority_host == DEFAULT_AUTHORITY else {"instance_discovery": False}
        client = msal.ConfidentialClientApplication(
            app.key.client_id,
            client_credential=client_secret,
            authority=f"{self.authority_host}/{app.key.tenant_id}",
            token_cache=app.cache,
            http_client=self._http,
            **custom,
        )
        try:
            sealed = self.cache_store.load(app.key)
            if sealed is not None:
                app.cache.deserialize(self.box.open(sealed, app.context))
        except (StoreError, SecretError, ValueError) as exc:  # a cache, not a source of truth: start empty
            log.info("token cache of app %s not reused (%s); asking Entra ID", app.key.client_id, exc)
        app.client = client
        return client

    def _write_back(self, app: _App) -> None:
        if not app.cache.has_state_changed:
            return
        try:
            self.cache_store.save(app.key, self.box.seal(app.cache.serialize(), app.context))
        except StoreError as exc:
            log.warning("token cache of app %s not saved (%s); a cold start will ask again", app.key.client_id, exc)


@dataclass
class _App:
    """One MSAL app with its own cache; built on first use, kept for the provider's life."""

    key: TokenCacheKey
    context: bytes = field(repr=False)
    cache: Any = field(default_factory=msal.SerializableTokenCache)
    client: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _expires_soon(result: Mapping[str, Any] | None) -> bool:
    """A cached token (MSAL's ``token_source``) that would not outlive :data:`REFRESH_MARGIN`."""
    if not result or "access_token" not in result or result.get("token_source") != "cache":
        return False
    return int(result.get("expires_in", 0)) < REFRESH_MARGIN.total_seconds()


def _mark_aging(cache: Any, access_token: str) -> None:
    """Set the cached token's ``refresh_on`` to the past: MSAL's next lookup refreshes it, keeping it as fallback."""
    access_tokens = cache.CredentialType.ACCESS_TOKEN
    for entry in list(cache.search(access_tokens)):
        if entry.get("secret") == access_token:
            cache.modify(access_tokens, entry, {"refresh_on": str(int(time.time()) - 1)})


def _forget(cache: Any, scope: str) -> None:
    """Remove the cached access tokens for ``scope``: the next lookup asks Entra."""
    for entry in list(cache.search(cache.CredentialType.ACCESS_TOKEN, target=[scope])):
        cache.remove_at(entry)


def _digest(client_secret: str) -> str:
    return hashlib.sha256(client_secret.encode("utf-8")).hexdigest()


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: requests and urllib3 chain the ssl module's error as cause or context."""
    current: BaseException | None = exc
    while current is not None:
        yield current
        current = current.__cause__ or current.__context__


class _Transport(HTTPAdapter):
    """HTTPS with the system CAs plus an optional extra CA, a timeout on every request, and a request count.

    requests' ``verify=<file>`` would trust that file alone, and the environment's ``REQUESTS_CA_BUNDLE``
    overrides ``verify`` anyway; a TLS context of our own on a session that ignores the environment does neither.
    """

    def __init__(self, ca_file: str | None, timeout_seconds: float, counter: RequestCounter) -> None:
        self._context = ssl.create_default_context()
        if ca_file:
            self._context.load_verify_locations(cafile=ca_file)
        self._timeout = timeout_seconds
        self._counter = counter
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        use_checked_pools(self.poolmanager)  # the identity provider too: only where the egress policy allows

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        path = urlsplit(request.url or "").path
        self._counter.add(TOKEN_REQUESTS if path.endswith("/token") else METADATA_REQUESTS)
        return super().send(request, stream, timeout or self._timeout, verify, cert, proxies)


def _http_session(ca_file: str | None, timeout_seconds: float, counter: RequestCounter) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no REQUESTS_CA_BUNDLE / proxy variables: the identity provider is reached directly
    session.mount("https://", _Transport(ca_file, timeout_seconds, counter))
    return session


def identity_provider_session(
    ca_file: str | None, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, counter: RequestCounter | None = None
) -> requests.Session:
    """A session for other token endpoints (Google, consent): the same CAs, timeout, count and egress checks."""
    return _http_session(ca_file, timeout_seconds, counter or RequestCounter())
