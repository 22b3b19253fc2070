"""What the local mail servers accept as an OAuth bearer token: signing keys and audiences — for tests only.

Real mail providers validate the access tokens of SASL XOAUTH2 / OAUTHBEARER against their identity provider.
The local servers do the same with the keys the local identity providers publish (their JWKS): Dovecot through
its ``oauth2`` passdb with local JWT validation, the SMTP server through PyJWT. An :class:`OAuthAudience` says
which tokens a server takes and for whom:

- app-only (``username_claim=None``): a token for the audience logs in to any mailbox, as an Exchange Online
  service principal with FullAccess / SendAs on every mailbox does;
- delegated (``username_claim="email"``, say): the token must name the mailbox it logs in to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

EXCHANGE_ONLINE = "https://outlook.office365.com"


@dataclass(frozen=True)
class OAuthAudience:
    """Tokens whose ``aud`` (or ``scope``) holds ``audience`` are taken; ``username_claim`` ties them to a user."""

    name: str  # a file-name-safe label (Dovecot writes one passdb config per audience)
    audience: str
    username_claim: str | None = None


APP_ONLY_EXCHANGE = OAuthAudience("exchange-app-only", EXCHANGE_ONLINE)
DEFAULT_AUDIENCES: tuple[OAuthAudience, ...] = (APP_ONLY_EXCHANGE,)


class TokenRefused(Exception):
    """Why a bearer token was not taken; the text is what a server would say (no token in it)."""

    def __init__(self, message: str, status: str = "invalid_token") -> None:
        super().__init__(message)
        self.status = status  # RFC 7628 / RFC 6750 error code


def public_keys_pem(jwks: Mapping[str, Any]) -> dict[str, tuple[str, bytes]]:
    """``kid -> (alg, PEM public key)`` of the RSA keys of a JWKS document."""
    keys: dict[str, tuple[str, bytes]] = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "RSA" or "kid" not in jwk:
            continue
        public = RSAAlgorithm.from_jwk(json.dumps(jwk))
        if not isinstance(public, rsa.RSAPublicKey):
            continue  # a JWKS publishes public keys only
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        keys[str(jwk["kid"])] = (str(jwk.get("alg", "RS256")).upper(), pem)
    return keys


class BearerValidator:
    """Validates JWT bearer tokens as Dovecot's local validation does: signature, times, audience, user."""

    def __init__(self, audiences: Sequence[OAuthAudience] = DEFAULT_AUDIENCES) -> None:
        self.audiences = tuple(audiences)
        self._keys: dict[str, tuple[str, bytes]] = {}

    def trust(self, jwks: Mapping[str, Any]) -> None:
        self._keys.update(public_keys_pem(jwks))

    def check(self, token: str, user: str) -> None:
        """Return when ``token`` logs ``user`` in; raise :class:`TokenRefused` with the reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRefused("not a JWT token") from None
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise TokenRefused("token signed by an unknown key")
        alg, pem = key
        try:
            claims = jwt.decode(token, pem, algorithms=[alg], options={"verify_aud": False, "require": ["exp"]})
        except jwt.ExpiredSignatureError:
            raise TokenRefused("token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRefused(f"token is not valid: {exc}") from None
        granted = _audiences(claims)
        for audience in self.audiences:
            if audience.audience not in granted:
                continue
            if audience.username_claim is None or str(claims.get(audience.username_claim, "")).lower() == user.lower():
                return
        raise TokenRefused(
            f"token is not valid for audience {' or '.join(a.audience for a in self.audiences)} and user {user}",
            status="insufficient_scope",
        )


def _audiences(claims: Mapping[str, Any]) -> set[str]:
    """Whom a token is for (``aud``, a string or a list), as Dovecot checks it against its ``client_id``."""
    audience = claims.get("aud", [])
    return {str(a) for a in audience} if isinstance(audience, list) else {str(audience)}


def parse_bearer_response(mechanism: str, response: bytes) -> tuple[str, str]:
    """``(user, token)`` of a client's XOAUTH2 or OAUTHBEARER response; ValueError when it is malformed."""
    fields = response.decode("utf-8").split("\x01")
    user = ""
    if mechanism == "OAUTHBEARER":
        gs2 = fields[0].split(",")
        authzid = next((part[2:] for part in gs2 if part.startswith("a=")), "")
        user = authzid.replace("=2C", ",").replace("=3D", "=")
    token = ""
    for item in fields[1:] if mechanism == "OAUTHBEARER" else fields:
        key, _, value = item.partition("=")
        if key == "user" and mechanism == "XOAUTH2":
            user = value
        elif key == "auth" and value[:7].lower() == "bearer ":
            token = value[7:]
    if not user or not token:
        raise ValueError(f"a {mechanism} response without a user or a bearer token")
    return user, token
