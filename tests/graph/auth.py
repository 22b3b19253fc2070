"""Bearer-token validation as Graph does it: an RS256 JWT signed by a key of the tenant, for Graph's audience.

The keys come from the JWKS URL of the Entra ID stand-in (``devstack.entra``), fetched over TLS that trusts
the test CA, so a token the client got through MSAL is checked against the real issuer's keys. A missing,
malformed, expired, foreign-audience or wrongly signed token is a 401 ``InvalidAuthenticationToken``.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import jwt

from tests.graph.api import ApiError

GRAPH_AUDIENCE = "https://graph.microsoft.com"  # the aud of tokens for the scope https://graph.microsoft.com/.default
ALGORITHMS = ["RS256"]
KEYS_TIMEOUT_S = 5.0
CODE = "InvalidAuthenticationToken"


class BearerCheck:
    def __init__(self, jwks_url: str, ca_file: Path, audience: str = GRAPH_AUDIENCE) -> None:
        self.audience = audience
        context = ssl.create_default_context(cafile=str(ca_file))
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, timeout=int(KEYS_TIMEOUT_S), ssl_context=context)

    def check(self, authorization: str | None) -> None:
        """Returns when the header carries a valid token; raises the 401 Graph would answer otherwise."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, CODE, "Access token is empty.")
        try:
            key = self._keys.get_signing_key_from_jwt(token.strip())
            jwt.decode(token.strip(), key.key, algorithms=ALGORITHMS, audience=self.audience)
        except (jwt.PyJWTError, ValueError) as exc:
            raise ApiError(401, CODE, f"Access token validation failure. {exc}") from None
