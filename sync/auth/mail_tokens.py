"""Which OAuth token source serves a mailbox's IMAP, POP3 and SMTP logins (R-PROV-8, R-PROV-16) — one dispatcher.

Three kinds of token, each from its own source, registered by name when the services are built:

- ``"consent"``: the mailbox holds a refresh token from a per-mailbox consent (authorization code with PKCE;
  personal Gmail, Workspace without delegation, delegated Microsoft 365). It wins over the profile's kind:
  the person who consented chose that login for this mailbox.
- ``"google"``: a profile with ``Gmail OAuth`` credential retrieval; a service account with domain-wide
  delegation impersonates the mailbox address.
- ``"microsoft"``: a profile with ``Azure AD OAuth`` / ``Exchange Hybrid Modern Auth`` credential retrieval, or
  the OAuth authentication protocol: the profile's app registration, app-only (client credentials).

A kind nobody registered is refused with a :class:`MailAuthenticationError` that names what is missing, so
a deployment without (say) Google support says so in the mailbox's alert instead of failing obscurely.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final, Literal

from sync.mail.errors import MailAuthenticationError
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import AuthenticationProtocol, CredentialRetrieval
from sync.outgoing.port import AccessTokenSource

TokenKind = Literal["consent", "google", "microsoft"]
CONSENT: Final = "consent"
GOOGLE: Final = "google"
MICROSOFT: Final = "microsoft"

CONSENT_FIELD = "oauth_refresh_token"
"""The (sealed) mailbox field a per-mailbox consent stores its refresh token in: set means "use consent"."""

MICROSOFT_RETRIEVALS = frozenset({CredentialRetrieval.AZURE_AD_OAUTH, CredentialRetrieval.EXCHANGE_HYBRID_MODERN_AUTH})
OAUTH_RETRIEVALS = MICROSOFT_RETRIEVALS | {CredentialRetrieval.GMAIL_OAUTH}
NO_SOURCE_CODE = "OAuthTokenSourceMissing"


def profile_retrievals(profile: EmailServerProfile) -> frozenset[CredentialRetrieval]:
    """The credential retrievals in force for the profile's incoming and outgoing logins."""
    outgoing = (
        profile.incoming_credential_retrieval
        if profile.use_same_settings_for_outgoing
        else profile.outgoing_credential_retrieval
    )
    return frozenset({profile.incoming_credential_retrieval, outgoing})


def incoming_uses_oauth(profile: EmailServerProfile) -> bool:
    """Whether the incoming server (IMAP, POP3) is logged in to with an OAuth access token."""
    return (
        profile.incoming_credential_retrieval in OAUTH_RETRIEVALS
        or profile.incoming_authentication_protocol is AuthenticationProtocol.OAUTH
    )


def outgoing_uses_oauth(profile: EmailServerProfile) -> bool:
    """Whether the outgoing server (SMTP) is logged in to with an OAuth access token."""
    if profile.use_same_settings_for_outgoing:
        return incoming_uses_oauth(profile)
    return (
        profile.outgoing_credential_retrieval in OAUTH_RETRIEVALS
        or profile.outgoing_authentication_protocol is AuthenticationProtocol.OAUTH
    )


def uses_oauth(profile: EmailServerProfile) -> bool:
    """Whether the profile logs in (in either direction) with an OAuth access token."""
    return incoming_uses_oauth(profile) or outgoing_uses_oauth(profile)


def sasl_user(mailbox: Mailbox) -> str:
    """Whom a token logs in as: the mailbox's username when set (Gmail's ``recent:`` form), else its address."""
    return mailbox.username or mailbox.email_address or ""


def token_fetch(source: AccessTokenSource, mailbox: Mailbox, profile: EmailServerProfile) -> Callable[[bool], str]:
    """``fetch(force_refresh)`` of the mailbox's tokens, as the connectors ask for them."""

    def fetch(force_refresh: bool) -> str:
        return source.token(mailbox, profile, force_refresh=force_refresh)

    return fetch


def has_consent(mailbox: Mailbox) -> bool:
    """Whether the mailbox holds a refresh token of its own (per-mailbox consent)."""
    return getattr(mailbox, CONSENT_FIELD, None) is not None


def token_kind(mailbox: Mailbox, profile: EmailServerProfile) -> TokenKind:
    """The kind of source whose tokens log ``mailbox`` in — pure."""
    if has_consent(mailbox):
        return CONSENT
    if CredentialRetrieval.GMAIL_OAUTH in profile_retrievals(profile):
        return GOOGLE
    return MICROSOFT


class MailTokenSources:
    """An :class:`AccessTokenSource` that hands each request to the source of its kind."""

    def __init__(self, sources: Mapping[str, AccessTokenSource]) -> None:
        self.sources = dict(sources)

    def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
        kind = token_kind(mailbox, profile)
        source = self.sources.get(kind)
        if source is None:
            raise MailAuthenticationError(
                f"the mailbox {mailbox.name} needs an OAuth token of kind {kind!r} (profile {profile.name}), "
                "and this deployment has no source for it",
                code=NO_SOURCE_CODE,
            )
        return source.token(mailbox, profile, force_refresh=force_refresh)
