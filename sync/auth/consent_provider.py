"""Which identity provider a per-mailbox consent goes to, and the authorize URL it starts at — pure.

A Gmail OAuth profile consents at Google (scope ``https://mail.google.com/``, ``access_type=offline`` and
``prompt=consent`` so a refresh token comes back every time); any other OAuth profile at Microsoft Entra ID
(delegated IMAP, POP3 and SMTP scopes with ``offline_access``). The profile's ``oauth_authorize_endpoint`` and
``oauth_token_endpoint`` replace the defaults (a sovereign cloud, or the local servers of the tests).

PKCE (RFC 7636): the verifier is 43+ characters of ``secrets.token_urlsafe``, the challenge its S256 digest; the
state is another unguessable value, which also authenticates the redirect (the callback needs no API key).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from sync.auth.mail_tokens import profile_retrievals
from sync.model import EmailServerProfile
from sync.model.options import CredentialRetrieval

GOOGLE = "google"
MICROSOFT = "microsoft"
GOOGLE_AUTHORIZE_ENDPOINT = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_ENDPOINT = "https://oauth2.googleapis.com/token"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_DEFAULT_TENANT = "organizations"  # any work or school account; a profile's tenant narrows it
MICROSOFT_MAIL_SCOPES = (
    "offline_access",
    "https://outlook.office.com/IMAP.AccessAsUser.All",
    "https://outlook.office.com/POP.AccessAsUser.All",
    "https://outlook.office.com/SMTP.Send",
)
STATE_BYTES = 32
VERIFIER_BYTES = 48  # 64 characters: RFC 7636 asks for 43 to 128


@dataclass(frozen=True)
class ConsentProvider:
    """Where consent is asked and codes are exchanged, and for what."""

    name: str
    authorize_endpoint: str
    token_endpoint: str
    scopes: tuple[str, ...]
    extra_params: tuple[tuple[str, str], ...] = ()

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


def is_google(profile: EmailServerProfile) -> bool:
    return CredentialRetrieval.GMAIL_OAUTH in profile_retrievals(profile)


def consent_provider(profile: EmailServerProfile, microsoft_authority: str | None = None) -> ConsentProvider:
    """The provider of ``profile``'s consents (its endpoints, when set, replace the defaults)."""
    if is_google(profile):
        return ConsentProvider(
            name=GOOGLE,
            authorize_endpoint=profile.oauth_authorize_endpoint or GOOGLE_AUTHORIZE_ENDPOINT,
            token_endpoint=profile.oauth_token_endpoint or GOOGLE_TOKEN_ENDPOINT,
            scopes=(GOOGLE_MAIL_SCOPE,),
            extra_params=(("access_type", "offline"), ("prompt", "consent")),
        )
    tenant = profile.exchange_online_tenant_id or MICROSOFT_DEFAULT_TENANT
    base = f"{(microsoft_authority or MICROSOFT_AUTHORITY).rstrip('/')}/{tenant}/oauth2/v2.0"
    return ConsentProvider(
        name=MICROSOFT,
        authorize_endpoint=profile.oauth_authorize_endpoint or f"{base}/authorize",
        token_endpoint=profile.oauth_token_endpoint or f"{base}/token",
        scopes=MICROSOFT_MAIL_SCOPES,
    )


def token_endpoint(profile: EmailServerProfile, microsoft_authority: str | None = None) -> str:
    """Where ``profile``'s refresh tokens and assertions go."""
    return consent_provider(profile, microsoft_authority).token_endpoint


def new_state() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def new_verifier() -> str:
    return secrets.token_urlsafe(VERIFIER_BYTES)


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    provider: ConsentProvider,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    verifier: str,
    login_hint: str | None = None,
) -> str:
    """The URL the administrator (or the mailbox's owner) opens to consent."""
    params: list[tuple[str, str]] = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", provider.scope),
        ("state", state),
        ("code_challenge", s256_challenge(verifier)),
        ("code_challenge_method", "S256"),
        *provider.extra_params,
    ]
    if login_hint:
        params.append(("login_hint", login_hint))
    separator = "&" if "?" in provider.authorize_endpoint else "?"
    return f"{provider.authorize_endpoint}{separator}{urlencode(params)}"
