"""Gmail access tokens by Google Workspace domain-wide delegation (the ``"google"`` source of ``mail_tokens``).

A Gmail OAuth profile holds the JSON key of a service account, sealed like a client secret. For each mailbox the
service account impersonates the mailbox's address with Google's own library (google-auth:
``service_account.Credentials.with_subject``) and the scope ``https://mail.google.com/``, the only one Gmail's
IMAP, POP3 and SMTP accept. The Workspace administrator grants that scope to the service account's client id in
the Admin console (Security > Access and data control > API controls > Domain-wide delegation); without it Google
answers ``unauthorized_client``, which becomes a credentials alert that says so.

The assertion goes to the profile's ``oauth_token_endpoint`` (default Google's), never to the key file's own
``token_uri``: the profile's endpoint is what the egress policy and the administrator see. Credentials are kept
per (key, endpoint, address) in memory; google-auth refreshes them when they are within :data:`REFRESH_MARGIN`
of expiry or the caller says the server refused the last one (``force_refresh``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from google.auth import exceptions as google_errors
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from sync.auth.consent_provider import GOOGLE_MAIL_SCOPE, GOOGLE_TOKEN_ENDPOINT
from sync.auth.oauth_endpoint import refusal
from sync.auth.secrets import SecretBox, open_field
from sync.auth.tokens import error_from_exception
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError, MailServerError, TransientMailError
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow

KEY_FIELD = "google_service_account_key"
REFRESH_MARGIN = timedelta(minutes=10)
INVALID_KEY = "InvalidServiceAccountKey"
NOT_DELEGATED = "DomainWideDelegationMissing"


class GoogleServiceAccountTokens:
    """The ``"google"`` :class:`~sync.outgoing.port.AccessTokenSource`; one per process."""

    def __init__(self, box: SecretBox, session: requests.Session, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.box = box
        self.session = session
        self.clock = clock
        self._credentials: dict[tuple[str, str, str], service_account.Credentials] = {}
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
        address = mailbox.email_address
        if not address:
            raise MailAuthenticationError(
                f"the mailbox {mailbox.name} has no email address for the service account to impersonate",
                code="CredentialsMissing",
            )
        key = self._key(profile)
        endpoint = profile.oauth_token_endpoint or GOOGLE_TOKEN_ENDPOINT
        entry = (hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest(), endpoint, address.lower())
        with self._lock_of(entry):  # one refresh per mailbox at a time: a burst of connections costs one request
            credentials = self._credentials.get(entry)
            if credentials is None:
                credentials = self._build(key, endpoint, address, profile)
                self._credentials[entry] = credentials
            if force_refresh or not credentials.token or self._expires_soon(credentials):
                self._refresh(credentials, endpoint, key, address)
            return str(credentials.token)

    def _lock_of(self, entry: tuple[str, str, str]) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(entry, threading.Lock())

    def _key(self, profile: EmailServerProfile) -> dict[str, Any]:
        try:
            text = open_field(self.box, profile, KEY_FIELD)
        except SecretError as exc:
            raise MailAuthenticationError(
                f"the stored service account key cannot be decrypted: {exc}", code="CredentialsUnreadable"
            ) from None
        if text is None:
            raise MailAuthenticationError(
                f"the Gmail OAuth profile {profile.name} has no service account key (google_service_account_key) "
                "and the mailbox has no OAuth consent of its own",
                code="CredentialsMissing",
            )
        try:
            key = json.loads(text)
        except ValueError:
            key = None
        if not isinstance(key, dict) or key.get("type") != "service_account" or not key.get("client_email"):
            raise MailAuthenticationError(
                f"the service account key of the profile {profile.name} is not a Google service account JSON key",
                code=INVALID_KEY,
            )
        return key

    def _build(
        self, key: dict[str, Any], endpoint: str, address: str, profile: EmailServerProfile
    ) -> service_account.Credentials:
        try:
            credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                {**key, "token_uri": endpoint}, scopes=[GOOGLE_MAIL_SCOPE]
            )
        except (ValueError, KeyError, TypeError):
            raise MailAuthenticationError(
                f"the service account key of the profile {profile.name} cannot be used (its private key or "
                "client_email is malformed)",
                code=INVALID_KEY,
            ) from None
        delegated: service_account.Credentials = credentials.with_subject(address)
        return delegated

    def _expires_soon(self, credentials: service_account.Credentials) -> bool:
        expiry: datetime | None = credentials.expiry  # naive UTC, as google-auth keeps it
        if expiry is None:
            return True
        return expiry.replace(tzinfo=UTC) - REFRESH_MARGIN <= self.clock()

    def _refresh(
        self, credentials: service_account.Credentials, endpoint: str, key: dict[str, Any], address: str
    ) -> None:
        try:
            credentials.refresh(Request(session=self.session))  # type: ignore[no-untyped-call]
        except google_errors.RefreshError as exc:
            raise _refresh_error(exc, str(key["client_email"]), address) from None
        except google_errors.TransportError as exc:
            cause = exc.__cause__ or (exc.args[0] if exc.args else None)
            if isinstance(cause, requests.RequestException):
                raise error_from_exception(cause, endpoint) from None
            raise TransientMailError(
                f"Google's token endpoint did not answer ({type(exc).__name__})", code="IdentityProviderUnavailable"
            ) from None


def _refresh_error(exc: google_errors.RefreshError, account: str, address: str) -> MailServerError:
    """Google's refusal, in words that say what to fix."""
    body = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = str(body.get("error") or "")
    detail = " ".join(str(body.get("error_description") or "").split())[:200]
    refused = f"Google refused the service account {account} a token for {address}"
    if error == "unauthorized_client":
        return MailAuthenticationError(
            f"{refused}: it has no domain-wide delegation for {GOOGLE_MAIL_SCOPE} (unauthorized_client: {detail}). "
            "Grant it in the Google Admin console: Security > Access and data control > API controls > "
            "Domain-wide delegation",
            code=NOT_DELEGATED,
        )
    if error == "invalid_grant":
        return MailAuthenticationError(
            f"{refused} (invalid_grant: {detail}): check that the key is still active in Google Cloud and that "
            f"{address} is a user of the Workspace domain",
            code="ServiceAccountGrantRefused",
        )
    if body:
        return refusal(500 if exc.retryable else 400, body, f"Google's token endpoint ({refused.lower()})")
    kind = TransientMailError if exc.retryable else MailAuthenticationError
    return kind(f"{refused}: {str(exc.args[0])[:200] if exc.args else type(exc).__name__}")
