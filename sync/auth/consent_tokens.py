"""Access tokens of mailboxes with their own OAuth consent (the ``"consent"`` source of ``mail_tokens``).

A token is cached in memory per mailbox until :data:`REFRESH_MARGIN` before it expires. To get a new one the
source reads the mailbox's current refresh token from the store and redeems it at the endpoint that issued it:

- **rotation**: when the provider answers with a new refresh token (Microsoft always, our local server always,
  Google sometimes), the new one is sealed onto the mailbox *before* the access token is handed out, so a crash
  never leaves the mailbox holding a token the provider already retired;
- **two workers at once**: the loser of a rotation race sees ``invalid_grant`` for the token it read; it reads
  the mailbox again and, when another worker stored a newer refresh token meanwhile, redeems that one (once);
- **revocation**: ``invalid_grant`` for the current token is :class:`~sync.auth.oauth_endpoint.ConsentRevoked`,
  an authentication failure: the health policy raises the credentials alert and disables the direction, as for
  a wrong password, until someone consents again and runs Test & Enable.

No token appears in an error message or a log line.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests

from sync.auth import consent_provider as provider
from sync.auth.consent_store import record_refresh_token, usable_refresh_token
from sync.auth.oauth_endpoint import ConsentRevoked, request_token
from sync.auth.secrets import SecretBox, open_field
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow
from sync.store.store import Store

REFRESH_MARGIN = timedelta(minutes=10)  # as for app-only tokens: a handed-out token outlives a run's connections
CONSENT_REQUIRED = "OAuthConsentRequired"


@dataclass(frozen=True)
class _Cached:
    value: str = field(repr=False)
    expires_on: datetime
    refresh_digest: str  # the refresh token it came from: a new consent makes it stale


class ConsentTokens:
    """The ``"consent"`` :class:`~sync.outgoing.port.AccessTokenSource`; one per process."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        session: requests.Session,
        *,
        microsoft_authority: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.box = box
        self.session = session
        self.microsoft_authority = microsoft_authority
        self.clock = clock
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
        with self._lock(mailbox.id):
            current = self.store.get_mailbox(mailbox.id)
            refresh_token = self._refresh_token(current, profile)
            cached = self._cache.get(mailbox.id)
            if (
                not force_refresh
                and cached is not None
                and cached.refresh_digest == _digest(refresh_token)
                and cached.expires_on - REFRESH_MARGIN > self.clock()
            ):
                return cached.value
            try:
                return self._redeem(current, profile, refresh_token)
            except ConsentRevoked:
                again = self.store.get_mailbox(mailbox.id)
                newer = self._refresh_token(again, profile)
                if newer == refresh_token:  # nobody rotated it meanwhile: it really was revoked
                    raise self._revoked(mailbox) from None
                return self._redeem(again, profile, newer)

    def forget(self, mailbox_id: str) -> None:
        """Drop the cached access token (a new consent, or the server refused it)."""
        self._cache.pop(mailbox_id, None)

    def _redeem(self, mailbox: Mailbox, profile: EmailServerProfile, refresh_token: str) -> str:
        chosen = provider.consent_provider(profile, self.microsoft_authority)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": profile.oauth_client_id or "",
            "scope": chosen.scope,
        }
        secret = self._client_secret(profile)
        if secret:
            form["client_secret"] = secret
        answer = request_token(self.session, chosen.token_endpoint, form)
        now = self.clock()
        rotated = answer.get("refresh_token")
        digest = _digest(refresh_token)
        if isinstance(rotated, str) and rotated and rotated != refresh_token:

            def keep(stored: Mailbox) -> None:
                record_refresh_token(
                    self.box, stored, rotated, profile_id=profile.id, token_endpoint=chosen.token_endpoint, now=now
                )

            self.store.mailboxes.modify(mailbox.id, "mailbox", keep)  # before the access token is used
            digest = _digest(rotated)
        expires_in = int(answer.get("expires_in") or 0)
        value = str(answer["access_token"])
        self._cache[mailbox.id] = _Cached(value, now + timedelta(seconds=expires_in), digest)
        return value

    def _refresh_token(self, mailbox: Mailbox, profile: EmailServerProfile) -> str:
        endpoint = provider.token_endpoint(profile, self.microsoft_authority)
        try:
            token = usable_refresh_token(self.box, mailbox, profile_id=profile.id, token_endpoint=endpoint)
        except SecretError as exc:
            raise MailAuthenticationError(
                f"the stored OAuth consent cannot be decrypted: {exc}", code="CredentialsUnreadable"
            ) from None
        if token is None:
            raise MailAuthenticationError(
                f"the mailbox {mailbox.name} has no OAuth consent for the profile {profile.name} and its token "
                f"endpoint: consent again (POST /api/mailboxes/{mailbox.id}/oauth-consent)",
                code=CONSENT_REQUIRED,
            )
        return token

    def _client_secret(self, profile: EmailServerProfile) -> str | None:
        try:
            return open_field(self.box, profile, "oauth_client_secret")
        except SecretError as exc:
            raise MailAuthenticationError(
                f"the profile's OAuth client secret cannot be decrypted: {exc}", code="CredentialsUnreadable"
            ) from None

    def _revoked(self, mailbox: Mailbox) -> ConsentRevoked:
        self.forget(mailbox.id)
        return ConsentRevoked(
            f"the OAuth consent of the mailbox {mailbox.name} was revoked or has expired (the identity provider "
            f"answered invalid_grant): consent again (POST /api/mailboxes/{mailbox.id}/oauth-consent), then run "
            "Test & Enable"
        )

    def _lock(self, mailbox_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(mailbox_id, threading.Lock())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
