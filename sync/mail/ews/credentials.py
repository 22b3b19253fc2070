"""exchangelib credentials whose OAuth token comes from MSAL (``sync/auth/tokens.py``), renewed before it expires.

exchangelib keeps the token in an oauthlib client, which raises ``TokenExpiredError`` before sending a request
once the token's ``expires_at`` has passed (``_expires_at < time.time()``, no margin of its own). With no client
secret of its own, exchangelib then calls :meth:`MsalCredentials.refresh`, opens a fresh session and resends.
We tell exchangelib the token expires :data:`EXPIRY_MARGIN` early, so it asks again while the old token is still
good instead of learning from a 401. The margin is below the token provider's ``REFRESH_MARGIN``: by the time
exchangelib asks, the provider no longer serves the cached token and gets a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from exchangelib import Identity, OAuth2AuthorizationCodeCredentials

from sync.auth.tokens import AccessToken
from sync.model.fields import utcnow

EXPIRY_MARGIN = timedelta(minutes=5)  # a request sent just before this still carries a valid token

TokenFetch = Callable[[], AccessToken]


def token_dict(token: AccessToken, now: datetime) -> dict[str, Any]:
    """The token as exchangelib and oauthlib expect it, ``expires_at`` moved :data:`EXPIRY_MARGIN` early.

    A token that would then be expired already (shorter-lived than the margin) keeps its real expiry:
    exchangelib would otherwise refresh, get the same token back and retry in a loop until it expires.
    """
    expires_at = token.expires_on - EXPIRY_MARGIN
    if expires_at <= now:
        expires_at = token.expires_on
    return {
        "access_token": token.value,
        "token_type": "Bearer",
        "expires_in": max(0, int((expires_at - now).total_seconds())),
        "expires_at": expires_at.timestamp(),
    }


class MsalCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]  # exchangelib is untyped
    """OAuth credentials that fetch their token (at once, and again whenever exchangelib finds it expired).

    exchangelib hashes credentials by their attribute values (and keys its protocol cache with them), so every
    attribute here is hashable. Equality and hash rest on ``fetch`` alone: exchangelib's own change once it caches
    its oauthlib client on the instance, and compare the current token, which changes on every refresh.
    Credentials with equal ``fetch`` callables share one exchangelib protocol (one connection pool).
    """

    def __init__(self, fetch: TokenFetch, identity: Identity | None = None) -> None:
        self._fetch = fetch
        super().__init__(access_token=token_dict(fetch(), utcnow()), identity=identity)

    def refresh(self, session: Any) -> None:
        """Called by exchangelib, under the credentials' lock, when oauthlib reports the token expired."""
        self.access_token = token_dict(self._fetch(), utcnow())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MsalCredentials) and self._fetch == other._fetch

    def __hash__(self) -> int:
        return hash(self._fetch)
