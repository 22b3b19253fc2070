"""Who may call the admin API (spec §2.17, ARCHITECTURE §5): API keys for machines, Entra ID tokens for people.

- ``X-API-Key``: the key's SHA-256 digest must be listed in ``SYNC_API_KEYS``; only digests are configured, so
  a leaked setting does not leak a key. A key is an administrator unless its entry ends in ``:reader``.
- ``Authorization: Bearer <JWT>``: an access token of the configured tenant (``SYNC_API_TENANT_ID``) for this
  API (``SYNC_API_AUDIENCE``): signature against the tenant's published keys, issuer, audience, expiry and
  not-before are checked, and its ``roles`` claim carries the app roles ``Sync.Admin`` / ``Sync.Reader`` /
  ``Sync.Approver``; its ``wids`` claim carries the caller's Entra ID directory roles.

Reading needs any role; changing anything and Test & Enable need ``Sync.Admin``. Approving or rejecting an email
address is its own privilege, ``Sync.Approver`` (Dynamics' prvApproveRejectEmailAddress, R-SEC-2), so general
administrators do not approve mailboxes by default. A key entry's suffix lists its roles joined by ``+``:
``<digest>`` (admin), ``<digest>:reader``, ``<digest>:approver``, ``<digest>:admin+approver``.

"Approved by a Microsoft 365 administrator" (R-APP-2, R-APP-4) is never declared by the caller: it is read from
the token's ``wids`` claim (Global Administrator or Exchange Administrator of the API's own tenant, the only tenant
whose tokens are accepted). API keys carry no directory role.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from sync.settings import Settings

ADMIN_ROLE = "Sync.Admin"
READER_ROLE = "Sync.Reader"
APPROVER_ROLE = "Sync.Approver"
# Entra ID built-in directory role template ids (the ``wids`` claim) allowed to approve Exchange Online mailboxes.
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
EXCHANGE_APPROVER_DIRECTORY_ROLES = frozenset({GLOBAL_ADMINISTRATOR, EXCHANGE_ADMINISTRATOR})
KEY_ROLES = {"admin": ADMIN_ROLE, "reader": READER_ROLE, "approver": APPROVER_ROLE}  # suffixes of SYNC_API_KEYS
API_KEY_HEADER = "X-API-Key"
PUBLIC_AUTHORITY = "https://login.microsoftonline.com"
CLOCK_SKEW_SECONDS = 60  # tolerated difference between the token issuer's clock and ours
METADATA_TTL_SECONDS = 3600.0  # the tenant's issuer and key URL are re-read hourly; keys rotate more slowly
FETCH_TIMEOUT_SECONDS = 10.0
ALGORITHMS = ["RS256"]  # what Entra ID signs access tokens with
PRINCIPAL_STATE = "principal"  # where the front door (sync.api.guard) leaves the caller it authenticated

api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An admin API key (its SHA-256 digest is in SYNC_API_KEYS)."
)
bearer_scheme = HTTPBearer(auto_error=False, description="A Microsoft Entra ID access token for this API.")


@dataclass(frozen=True)
class Principal:
    """The caller: ``id`` is recorded on what it changes (at most 36 characters, like a Dataverse lookup)."""

    id: str
    roles: frozenset[str]
    via: str  # "api-key" | "entra"
    directory_roles: frozenset[str] = frozenset()  # the token's ``wids``: Entra ID directory role template ids

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    @property
    def is_approver(self) -> bool:
        return APPROVER_ROLE in self.roles

    @property
    def is_exchange_administrator(self) -> bool:
        """A Global or Exchange Administrator of the API's tenant, as Entra ID itself says (R-APP-2)."""
        return bool(self.directory_roles & EXCHANGE_APPROVER_DIRECTORY_ROLES)

    @property
    def can_read(self) -> bool:
        return bool(self.roles & {ADMIN_ROLE, READER_ROLE, APPROVER_ROLE})


def key_roles(suffix: str) -> frozenset[str]:
    """The roles of a ``SYNC_API_KEYS`` entry's suffix: none is an administrator; an unknown name grants nothing."""
    names = [name.strip().lower() for name in suffix.split("+") if name.strip()] or ["admin"]
    roles = {KEY_ROLES[name] for name in names if name in KEY_ROLES}
    return frozenset(roles | {READER_ROLE}) if roles else frozenset()


def new_api_key() -> tuple[str, str]:
    """A fresh random key and its SHA-256 hex digest (the digest goes into SYNC_API_KEYS)."""
    key = secrets.token_urlsafe(32)
    return key, key_digest(key)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """System trust plus an optional private CA (a local identity provider in tests)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class EntraVerifier:
    """Validates Entra ID access tokens against the tenant's OpenID Connect metadata and signing keys."""

    def __init__(self, tenant_id: str, audience: str, authority: str | None, ca_file: str | None = None) -> None:
        self.tenant_id = tenant_id
        self.audience = audience
        base = authority or PUBLIC_AUTHORITY
        self.metadata_url = f"{base}/{tenant_id}/v2.0/.well-known/openid-configuration"
        self.public_cloud = authority is None
        self._tls = _tls_context(ca_file)
        self._lock = threading.Lock()
        self._metadata: tuple[float, list[str], jwt.PyJWKClient] | None = None

    def _load(self) -> tuple[list[str], jwt.PyJWKClient]:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata[0] > METADATA_TTL_SECONDS:
                with urllib.request.urlopen(
                    self.metadata_url, timeout=FETCH_TIMEOUT_SECONDS, context=self._tls
                ) as response:
                    document: dict[str, Any] = json.load(response)
                issuers = [str(document["issuer"])]
                if self.public_cloud:  # v1.0 access tokens (accessTokenAcceptedVersion null) name the old issuer
                    issuers.append(f"https://sts.windows.net/{self.tenant_id}/")
                keys = jwt.PyJWKClient(
                    str(document["jwks_uri"]),
                    cache_keys=True,
                    lifespan=METADATA_TTL_SECONDS,
                    timeout=FETCH_TIMEOUT_SECONDS,
                    ssl_context=self._tls,
                )
                self._metadata = (time.monotonic(), issuers, keys)
            return self._metadata[1], self._metadata[2]

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises HTTPException 401 saying what is wrong, 503 if the keys cannot be read."""
        try:
            issuers, keys = self._load()
            signing_key = keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"the tenant's signing keys cannot be read: {exc}"
            ) from None
        except jwt.PyJWKClientError as exc:
            raise _unauthorized(f"the bearer token is not signed by a key of the tenant: {exc}") from None
        except jwt.DecodeError:
            raise _unauthorized("the bearer token is not a well-formed JWT") from None
        except (OSError, ValueError, KeyError) as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"the tenant's OpenID metadata cannot be read: {exc}"
            ) from None
        audiences = [self.audience] if self.audience.startswith("api://") else [self.audience, f"api://{self.audience}"]
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=ALGORITHMS,
                audience=audiences,
                issuer=issuers,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the bearer token has expired") from None
        except jwt.ImmatureSignatureError:
            raise _unauthorized("the bearer token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise _unauthorized("the bearer token was issued for another audience, not this API") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("the bearer token was issued by another tenant or identity provider") from None
        except jwt.InvalidSignatureError:
            raise _unauthorized("the bearer token's signature is invalid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise _unauthorized(f"the bearer token lacks the '{exc.claim}' claim") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"the bearer token is invalid: {exc}") from None
        if "tid" in claims and claims["tid"] != self.tenant_id:
            raise _unauthorized("the bearer token was issued by another tenant")
        return claims


class Authenticator:
    """Turns a request's credentials into a :class:`Principal` (or a 401 that says what is missing)."""

    def __init__(self, settings: Settings) -> None:
        self._keys: dict[str, frozenset[str]] = {}
        for entry in (settings.api_keys or "").split(","):
            digest, _, suffix = entry.strip().partition(":")
            if digest:
                self._keys[digest] = key_roles(suffix)
        self.entra: EntraVerifier | None = None
        if settings.api_tenant_id and settings.api_audience:
            self.entra = EntraVerifier(
                settings.api_tenant_id, settings.api_audience, settings.api_authority, settings.extra_ca_file
            )

    def from_api_key(self, key: str) -> Principal:
        digest = key_digest(key)
        for known, roles in self._keys.items():
            if hmac.compare_digest(known, digest):
                return Principal(id=f"api-key:{digest[:12]}", roles=roles, via="api-key")
        raise _unauthorized(f"the {API_KEY_HEADER} header does not hold a valid API key")

    def from_bearer(self, token: str) -> Principal:
        if self.entra is None:
            raise _unauthorized("bearer tokens are not accepted: Entra ID sign-in is not configured for this API")
        claims = self.entra.verify(token)
        roles = claims.get("roles") or []
        who = claims.get("oid") or claims.get("sub") or claims.get("appid") or claims.get("azp") or "unknown"
        wids = claims.get("wids") or []
        return Principal(
            id=str(who)[:36],
            roles=frozenset(str(r) for r in roles if isinstance(r, str)),
            via="entra",
            directory_roles=frozenset(str(w) for w in wids if isinstance(w, str)),
        )


def authenticate(
    request: Request,
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller, from the API key header or the bearer token (the key wins when both are sent)."""
    known = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if isinstance(known, Principal):  # already authenticated by the front door, before the body was read
        return known
    authenticator: Authenticator = request.app.state.authenticator
    if api_key:
        return authenticator.from_api_key(api_key)
    if bearer is not None and bearer.credentials:
        return authenticator.from_bearer(bearer.credentials)
    raise _unauthorized(
        f"authentication required: send an {API_KEY_HEADER} header or an 'Authorization: Bearer' Entra ID token"
    )


def require_reader(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.can_read:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this route needs the {READER_ROLE}, {ADMIN_ROLE} or {APPROVER_ROLE} app role",
        )
    return principal


def require_admin(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this action needs the {ADMIN_ROLE} app role")
    return principal


def require_approver(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.is_approver:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"approving or rejecting an email address needs the {APPROVER_ROLE} app role ({ADMIN_ROLE} is not enough)",
        )
    return principal


Approver = Annotated[Principal, Depends(require_approver)]
Reader = Annotated[Principal, Depends(require_reader)]
Admin = Annotated[Principal, Depends(require_admin)]
