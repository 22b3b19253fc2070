"""The grants of the local Google-style OAuth server, without HTTP: who may have which token, and Google's errors.

Three grants, as Google's token endpoint answers them:

- **JWT bearer** (RFC 7523, ``urn:ietf:params:oauth:grant-type:jwt-bearer``): a service account signs an
  assertion with its private key; with ``sub`` it asks for a token of that user (Google Workspace domain-wide
  delegation), which only an account the "Admin console" delegated for the scopes gets (``unauthorized_client``).
- **Authorization code** with PKCE (RFC 7636, S256 only): the code is single-use, bound to its client, redirect
  URI and challenge; with ``access_type=offline`` a refresh token comes with it.
- **Refresh token**: each use rotates it (the old one stops working, as Microsoft's do) and a revoked or rotated
  one is ``invalid_grant`` "Token has been expired or revoked.", Google's words.

Access tokens are RS256 JWTs signed with the server's key (published as JWKS), so mail servers validate them
locally the way they validate the Entra ID mock's. Every error body is Google's shape:
``{"error": ..., "error_description": ...}``. Time comes from an injected clock.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

MAIL_SCOPE = "https://mail.google.com/"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # what google-auth puts in every assertion's aud
ACCESS_TOKEN_SECONDS = 3600
CODE_SECONDS = 600  # Google's codes are short-lived; ten minutes is generous
ASSERTION_MAX_SECONDS = 3600  # "Token must be a short-lived token (60 minutes)"
RSA_BITS = 2048

REVOKED = "Token has been expired or revoked."
NOT_DELEGATED = (
    "Client is unauthorized to retrieve access tokens using this method, "
    "or client not authorized for any of the scopes requested."
)

Answer = tuple[int, dict[str, Any]]
Clock = Callable[[], float]


def error(status: int, code: str, description: str) -> Answer:
    """Google's error body."""
    return status, {"error": code, "error_description": description}


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


@dataclass
class ServiceAccount:
    """A Google Cloud service account; ``delegated``: the Workspace admin granted it domain-wide delegation."""

    client_email: str
    client_id: str
    key: rsa.RSAPrivateKey = field(repr=False)
    key_id: str
    delegated_scopes: frozenset[str]

    def key_file(self, token_uri: str) -> dict[str, str]:
        """The JSON key as the Google Cloud console downloads it (its ``token_uri`` pointed at this server)."""
        return {
            "type": "service_account",
            "project_id": "sync-tests",
            "private_key_id": self.key_id,
            "private_key": _pem(self.key),
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth client (web application) with its registered redirect URIs."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: frozenset[str]


@dataclass(frozen=True)
class Assertion:
    """A JWT-bearer assertion whose signature, audience and lifetime checked out."""

    account: ServiceAccount
    claims: dict[str, Any]


@dataclass(frozen=True)
class PendingCode:
    client_id: str
    redirect_uri: str
    challenge: str
    subject: str
    scope: str
    offline: bool
    expires_at: float


@dataclass
class RefreshGrant:
    client_id: str
    subject: str
    scope: str


class GoogleGrants:
    """What the server knows and decides; thread-safe (the HTTP server answers on several threads)."""

    def __init__(self, issuer: str, token_uri: str, *, audience: str = MAIL_SCOPE, clock: Clock = time.time) -> None:
        self.issuer = issuer
        self.token_uri = token_uri
        self.audience = audience
        self.clock = clock
        self.access_token_seconds = ACCESS_TOKEN_SECONDS
        self.rotate_refresh_tokens = True
        self.signing_key = _new_key()
        self.signing_key_id = uuid.uuid4().hex
        self.accounts: dict[str, ServiceAccount] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.signed_in: str | None = None  # who "signs in" at the authorize endpoint when no login_hint is given
        self.deny_consent = False  # the user clicks "Cancel": access_denied
        self.grants: dict[str, int] = {}  # grant type -> tokens issued, for tests
        self._codes: dict[str, PendingCode] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._lock = threading.Lock()

    # --- set-up -------------------------------------------------------------------------------------------
    def add_service_account(self, client_email: str, *, delegated: bool = True) -> ServiceAccount:
        account = ServiceAccount(
            client_email=client_email,
            client_id=str(uuid.uuid4().int)[:21],
            key=_new_key(),
            key_id=uuid.uuid4().hex,
            delegated_scopes=frozenset({MAIL_SCOPE}) if delegated else frozenset(),
        )
        self.accounts[client_email] = account
        return account

    def add_client(self, client_id: str, client_secret: str, redirect_uris: set[str]) -> OAuthClient:
        client = OAuthClient(client_id, client_secret, frozenset(redirect_uris))
        self.clients[client_id] = client
        return client

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.signing_key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.signing_key_id, "alg": "RS256", "use": "sig"}]}

    def public_key_pem(self) -> str:
        return (
            self.signing_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def revoke(self, token: str) -> Answer:
        """The revocation endpoint: a refresh token stops working at once."""
        with self._lock:
            if self._refresh.pop(token, None) is None:
                return error(400, "invalid_token", "Token expired or revoked")
        return 200, {}

    def revoke_subject(self, subject: str) -> int:
        """Revoke every refresh token of ``subject`` (the user removed the app's access); how many there were."""
        with self._lock:
            gone = [token for token, grant in self._refresh.items() if grant.subject == subject]
            for token in gone:
                del self._refresh[token]
        return len(gone)

    def live_refresh_tokens(self, subject: str) -> int:
        with self._lock:
            return sum(1 for grant in self._refresh.values() if grant.subject == subject)

    # --- authorize endpoint ---------------------------------------------------------------------------------
    def authorize(self, query: Mapping[str, str]) -> tuple[int, dict[str, Any] | str]:
        """A redirect (302, its Location) after the user's consent, or an error page that does not redirect."""
        refused = self._authorize_refusal(query)
        if refused is not None:
            return refused
        redirect_uri, state = query["redirect_uri"], query.get("state", "")
        if self.deny_consent:
            return 302, _with_query(redirect_uri, {"error": "access_denied", "state": state})
        subject = query.get("login_hint") or self.signed_in
        if not subject:
            return error(400, "invalid_request", "Nobody is signed in: set a login_hint.")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = PendingCode(
                client_id=query["client_id"],
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                subject=subject,
                scope=query.get("scope", ""),
                offline=query.get("access_type") == "offline",
                expires_at=self.clock() + CODE_SECONDS,
            )
        return 302, _with_query(redirect_uri, {"code": code, "scope": query.get("scope", ""), "state": state})

    def _authorize_refusal(self, query: Mapping[str, str]) -> Answer | None:
        """What Google shows instead of redirecting: an unknown client or redirect URI, no PKCE."""
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            return error(401, "invalid_client", "The OAuth client was not found.")
        if query.get("redirect_uri", "") not in client.redirect_uris:
            return error(400, "redirect_uri_mismatch", "The redirect URI does not match the OAuth client's.")
        if query.get("response_type") != "code":
            return error(400, "unsupported_response_type", "Invalid response_type: only code is supported.")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return error(400, "invalid_request", "code_challenge and code_challenge_method=S256 are required.")
        return None

    # --- token endpoint -------------------------------------------------------------------------------------
    def token(self, form: Mapping[str, str], basic: tuple[str, str] | None = None) -> Answer:
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_BEARER:
            answer = self._jwt_bearer(form.get("assertion", ""))
        elif grant_type in ("authorization_code", "refresh_token"):
            client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
            client = self.clients.get(client_id)
            if client is None or not secrets.compare_digest(client.client_secret, client_secret):
                return error(401, "invalid_client", "Unauthorized")
            if grant_type == "authorization_code":
                answer = self._code(client, form)
            else:
                answer = self._refresh_grant(client, form.get("refresh_token", ""))
        else:
            return error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        if answer[0] == 200:
            with self._lock:
                self.grants[grant_type] = self.grants.get(grant_type, 0) + 1
        return answer

    def _jwt_bearer(self, assertion: str) -> Answer:
        verified = self._verify_assertion(assertion)
        if not isinstance(verified, Assertion):
            return verified
        account, claims = verified.account, verified.claims
        scope = str(claims.get("scope", ""))
        subject = claims.get("sub")
        if subject and subject != account.client_email and not set(scope.split()) <= account.delegated_scopes:
            return error(401, "unauthorized_client", NOT_DELEGATED)
        return 200, self._access(str(subject or account.client_email), scope, account.client_id)

    def _verify_assertion(self, assertion: str) -> Assertion | Answer:
        """The signing account and the assertion's claims, or Google's refusal."""
        try:
            account = self.accounts.get(str(jwt.decode(assertion, options={"verify_signature": False}).get("iss")))
            kid = jwt.get_unverified_header(assertion).get("kid")
        except jwt.PyJWTError:
            return error(400, "invalid_grant", "Invalid JWT: the assertion is not a JWT.")
        if account is None:
            return error(400, "invalid_grant", "Invalid grant: account not found")
        try:
            if kid not in (None, account.key_id):
                raise jwt.InvalidSignatureError(kid)
            claims = jwt.decode(
                assertion,
                account.key.public_key(),
                algorithms=["RS256"],
                audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri],
                options={"require": ["iss", "aud", "exp", "iat"]},
            )
        except jwt.InvalidSignatureError:
            return error(400, "invalid_grant", "Invalid JWT Signature.")
        except jwt.InvalidAudienceError:
            return error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        except jwt.PyJWTError:
            claims = {}
        if not claims or int(claims["exp"]) - int(claims["iat"]) > ASSERTION_MAX_SECONDS:
            return error(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
                "Check your iat and exp values in the JWT claim.",
            )
        return Assertion(account, claims)

    def _code(self, client: OAuthClient, form: Mapping[str, str]) -> Answer:
        with self._lock:
            pending = self._codes.pop(form.get("code", ""), None)  # single use, also when it fails below
        if pending is None or pending.client_id != client.client_id or pending.expires_at < self.clock():
            return error(400, "invalid_grant", "Bad Request")
        if form.get("redirect_uri") != pending.redirect_uri:
            return error(400, "redirect_uri_mismatch", "Bad Request")
        if not secrets.compare_digest(s256(form.get("code_verifier", "")), pending.challenge):
            return error(400, "invalid_grant", "Invalid code verifier.")
        body = self._access(pending.subject, pending.scope, client.client_id)
        if pending.offline:
            body["refresh_token"] = self._new_refresh(RefreshGrant(client.client_id, pending.subject, pending.scope))
        return 200, body

    def _refresh_grant(self, client: OAuthClient, token: str) -> Answer:
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.client_id != client.client_id:
                return error(400, "invalid_grant", REVOKED)
            if self.rotate_refresh_tokens:
                del self._refresh[token]
        body = self._access(grant.subject, grant.scope, client.client_id)
        if self.rotate_refresh_tokens:
            body["refresh_token"] = self._new_refresh(grant)
        return 200, body

    def _new_refresh(self, grant: RefreshGrant) -> str:
        token = "1//" + secrets.token_urlsafe(32)  # Google's refresh tokens start so
        with self._lock:
            self._refresh[token] = grant
        return token

    def _access(self, subject: str, scope: str, client_id: str) -> dict[str, Any]:
        now = int(self.clock())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "email": subject,
            "email_verified": True,
            "azp": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + self.access_token_seconds,
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.signing_key_id})
        return {"access_token": token, "expires_in": self.access_token_seconds, "scope": scope, "token_type": "Bearer"}


def _with_query(url: str, params: Mapping[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
