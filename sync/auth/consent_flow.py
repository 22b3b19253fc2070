"""Per-mailbox OAuth consent: the authorization code flow with PKCE, started by an administrator.

1. :meth:`ConsentFlow.start` checks that the mailbox's profile logs in with OAuth and names an OAuth client
   (:func:`consent_refusal`, the rule the console also uses to offer the consent buttons), keeps a
   :class:`~sync.model.consent.PendingConsent` (state digest, sealed PKCE verifier, redirect URI, the token
   endpoint, an expiry of :data:`CONSENT_TTL`, where it was started) and answers the provider's authorize URL.
   Its expiry goes into the table's expiry index first, and expired consents nobody came back for are removed
   then (:mod:`sync.store.expiring_rows`).
2. The person who owns the mailbox signs in there and consents; the provider redirects to the callback with
   the code and the state.
3. :meth:`ConsentFlow.finish` claims the pending consent once (ETag), refuses it when expired or when the
   mailbox moved to another profile meanwhile, exchanges the code (with the verifier) at the token endpoint
   recorded at the start, and stores the refresh token sealed on the mailbox. The access token it came with
   is dropped: the token source asks for its own when a connection needs one. The result, or the
   :class:`ConsentFailed` (with its :class:`ConsentFailure` reason), names where the consent was started
   (:class:`~sync.model.consent.ConsentOrigin`), so the callback answers the API with JSON and sends a browser
   back to the console's mailbox page.

Nothing here returns or logs a code, verifier, state or token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import requests

from sync.auth import consent_provider as provider
from sync.auth.consent_store import record_refresh_token
from sync.auth.mail_tokens import uses_oauth
from sync.auth.oauth_endpoint import request_token
from sync.auth.secrets import SecretBox, open_field, secret_context
from sync.errors import ConcurrencyConflict, NotFound, SyncError, ValidationFailed
from sync.mail.errors import MailServerError
from sync.model import EmailServerProfile, Mailbox
from sync.model.consent import ConsentOrigin, PendingConsent
from sync.model.fields import new_id, utcnow
from sync.store.store import Store

CONSENT_TTL = timedelta(minutes=10)  # time to sign in and consent; a code is worth little after that


class ConsentFailure(StrEnum):
    """Why a callback did not record a consent: a fixed vocabulary a page can put in words."""

    UNKNOWN = "unknown"  # no pending consent has this state, or it was already used
    EXPIRED = "expired"
    DENIED = "denied"  # the provider answered an error (the person refused, or the request was wrong)
    NO_CODE = "no-code"
    PROFILE_CHANGED = "profile-changed"  # the mailbox's profile, or its OAuth client or token endpoint, changed
    CODE_REJECTED = "code-rejected"  # the token endpoint refused the code
    NO_REFRESH_TOKEN = "no-refresh-token"


class ConsentFailed(SyncError):
    """The callback cannot complete the consent; ``pending`` is the consent it was for, when the state named one."""

    def __init__(
        self,
        message: str,
        reason: ConsentFailure,
        *,
        pending: PendingConsent | None = None,
        provider_error: str | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.pending = pending
        self.provider_error = provider_error


def consent_refusal(profile: EmailServerProfile | None) -> ValidationFailed | None:
    """Why a mailbox on ``profile`` cannot start a per-mailbox consent, or None when it can — pure."""
    if profile is None:
        return ValidationFailed("the mailbox has no email server profile to consent for", field="mailbox")
    if not uses_oauth(profile):
        return ValidationFailed(
            f"the profile {profile.name} does not log in with OAuth: set its credential retrieval to "
            "gmail_oauth or azure_ad_oauth first",
            field="email_server_profile_id",
        )
    if not profile.oauth_client_id:
        return ValidationFailed(
            f"the profile {profile.name} names no OAuth client: set oauth_client_id (and oauth_client_secret)",
            field="oauth_client_id",
        )
    return None


@dataclass(frozen=True)
class StartedConsent:
    authorize_url: str
    redirect_uri: str
    expires_on: datetime


@dataclass(frozen=True)
class FinishedConsent:
    mailbox: Mailbox
    started_from: ConsentOrigin


def state_digest(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


class ConsentFlow:
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

    def start(
        self,
        mailbox_id: str,
        redirect_uri: str,
        *,
        by: str | None = None,
        login_hint: str | None = None,
        started_from: ConsentOrigin = ConsentOrigin.API,
    ) -> StartedConsent:
        mailbox = self.store.get_mailbox(mailbox_id)
        profile = self.store.find_profile(mailbox.email_server_profile_id or "")
        refusal = consent_refusal(profile)
        if refusal is not None:
            raise refusal
        assert profile is not None and profile.oauth_client_id  # consent_refusal checked both
        chosen = provider.consent_provider(profile, self.microsoft_authority)
        state, verifier = provider.new_state(), provider.new_verifier()
        expires_on = self.clock() + CONSENT_TTL
        pending_id = new_id()
        pending = PendingConsent(
            id=pending_id,
            state_digest=state_digest(state),
            mailbox_id=mailbox.id,
            profile_id=profile.id,
            code_verifier=self.box.seal(verifier, secret_context(PendingConsent.__name__, pending_id, "code_verifier")),
            redirect_uri=redirect_uri,
            token_endpoint=chosen.token_endpoint,
            expires_on=expires_on,
            requested_by=by,
            started_from=started_from,
        )
        self.store.pending_consent_expiry.note(pending.state_digest, "consent", expires_on, self.clock())
        self.store.pending_consents.insert(pending)
        url = provider.authorize_url(
            chosen,
            client_id=profile.oauth_client_id,
            redirect_uri=redirect_uri,
            state=state,
            verifier=verifier,
            login_hint=login_hint or mailbox.email_address,
        )
        return StartedConsent(url, redirect_uri, expires_on)

    def finish(self, state: str, code: str | None, error: str | None = None) -> FinishedConsent:
        """Complete the consent the provider redirected back for; the mailbox with its new refresh token."""
        pending = self._claim(state)
        mailbox = self._redeem(pending, code, error)
        return FinishedConsent(mailbox, pending.started_from)

    def _redeem(self, pending: PendingConsent, code: str | None, error: str | None) -> Mailbox:
        def failed(message: str, reason: ConsentFailure, provider_error: str | None = None) -> ConsentFailed:
            return ConsentFailed(message, reason, pending=pending, provider_error=provider_error)

        if error:
            raise failed(
                f"the identity provider did not grant access ({error[:100]}); start the consent again",
                ConsentFailure.DENIED,
                error[:100],
            )
        if not code:
            raise failed(
                "the identity provider sent no authorization code; start the consent again", ConsentFailure.NO_CODE
            )
        mailbox = self.store.get_mailbox(pending.mailbox_id)
        profile = self.store.find_profile(pending.profile_id)
        if profile is None or mailbox.email_server_profile_id != profile.id or not profile.oauth_client_id:
            raise failed(
                "the mailbox's email server profile changed since the consent started; start again",
                ConsentFailure.PROFILE_CHANGED,
            )
        if provider.token_endpoint(profile, self.microsoft_authority) != pending.token_endpoint:
            raise failed(
                "the profile's token endpoint changed since the consent started; start again",
                ConsentFailure.PROFILE_CHANGED,
            )
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": profile.oauth_client_id,
            "code_verifier": open_field(self.box, pending, "code_verifier") or "",
        }
        secret = open_field(self.box, profile, "oauth_client_secret")
        if secret:
            form["client_secret"] = secret
        try:
            answer = request_token(self.session, pending.token_endpoint, form)
        except MailServerError as exc:
            raise failed(f"the authorization code was not accepted: {exc}", ConsentFailure.CODE_REJECTED) from None
        refresh_token = answer.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            raise failed(
                "the identity provider granted no refresh token (offline access); start again",
                ConsentFailure.NO_REFRESH_TOKEN,
            )
        now = self.clock()

        def keep(stored: Mailbox) -> None:
            record_refresh_token(
                self.box, stored, refresh_token, profile_id=profile.id, token_endpoint=pending.token_endpoint, now=now
            )

        return self.store.mailboxes.modify(mailbox.id, "mailbox", keep)

    def _claim(self, state: str) -> PendingConsent:
        """The pending consent of ``state``, claimed for this one callback (used, unknown or expired: refused)."""
        pending = self.store.pending_consents.find(state_digest(state), "consent") if state else None
        if pending is None or pending.claimed:
            raise ConsentFailed(
                "this consent is unknown or was already used; start the consent again", ConsentFailure.UNKNOWN
            )
        pending.claimed = True
        try:
            self.store.pending_consents.update(pending)
        except (ConcurrencyConflict, NotFound):
            raise ConsentFailed(
                "this consent was already used; start the consent again", ConsentFailure.UNKNOWN
            ) from None
        self.store.pending_consents.delete(pending)
        if pending.expires_on <= self.clock():
            raise ConsentFailed(
                "this consent expired; start the consent again", ConsentFailure.EXPIRED, pending=pending
            )
        return pending
