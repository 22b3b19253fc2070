"""Who is calling: Basic credentials, or a Bearer token as Exchange Online accepts it.

A token must be RS256-signed by a key of the issuer's JWKS, meant for Exchange Online (``aud``), unexpired,
from the expected issuer when one is set, and carry the ``full_access_as_app`` application permission that
EWS requires of app-only tokens.
"""

from __future__ import annotations

import base64
import binascii
import ssl
from collections.abc import Mapping

import jwt

EWS_AUDIENCE = "https://outlook.office365.com"
APP_ROLE = "full_access_as_app"


class Authenticator:
    def __init__(
        self,
        users: Mapping[str, str],
        jwks_url: str | None = None,
        jwks_ssl_context: ssl.SSLContext | None = None,
        issuer: str | None = None,
    ) -> None:
        self._users = dict(users)
        self._jwks = jwt.PyJWKClient(jwks_url, ssl_context=jwks_ssl_context) if jwks_url else None
        self._issuer = issuer

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate value of a 401: the schemes this server accepts."""
        schemes = (['Basic realm="localhost"'] if self._users else []) + (["Bearer"] if self._jwks else [])
        return ", ".join(schemes) or "Basic"

    def caller(self, authorization: str) -> str | None:
        """The Basic username; "" for a valid app-only token, which names no mailbox; None if refused."""
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return username if username in self._users and self._users[username] == password else None
        if scheme.lower() != "bearer" or self._jwks is None:
            return None
        try:
            claims = jwt.decode(
                credentials,
                self._jwks.get_signing_key_from_jwt(credentials).key,
                algorithms=["RS256"],
                audience=EWS_AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "aud"], "verify_iss": self._issuer is not None},
            )
        except jwt.PyJWTError:
            return None
        return "" if APP_ROLE in claims.get("roles", []) else None
