"""Where per-mailbox consent goes, its authorize URL and PKCE, and how token endpoint refusals are typed — pure."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from sync.auth import consent_provider as provider
from sync.auth.oauth_endpoint import ConsentRevoked, refusal
from sync.mail.errors import MailAuthenticationError, PermanentMailError, TransientMailError
from sync.model import EmailServerProfile
from sync.model.options import CredentialRetrieval, ServerType


def profile(retrieval: CredentialRetrieval, **fields: object) -> EmailServerProfile:
    return EmailServerProfile(
        name="P", server_type=ServerType.IMAP_SMTP, incoming_credential_retrieval=retrieval, **fields
    )


def test_rfc_7636_appendix_b_challenge() -> None:
    assert provider.s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_verifiers_and_states_are_long_and_fresh() -> None:
    verifiers = {provider.new_verifier() for _ in range(20)}
    assert len(verifiers) == 20 and all(43 <= len(v) <= 128 for v in verifiers)
    assert len(provider.new_state()) >= 43


def test_gmail_oauth_profiles_consent_at_google_offline() -> None:
    chosen = provider.consent_provider(profile(CredentialRetrieval.GMAIL_OAUTH))
    assert chosen.name == "google"
    assert chosen.authorize_endpoint == "https://accounts.google.com/o/oauth2/v2/auth"
    assert chosen.token_endpoint == "https://oauth2.googleapis.com/token"
    assert chosen.scopes == ("https://mail.google.com/",)
    assert dict(chosen.extra_params) == {"access_type": "offline", "prompt": "consent"}


def test_other_oauth_profiles_consent_at_the_tenant_of_entra_id() -> None:
    tenant = "11111111-2222-3333-4444-555555555555"
    chosen = provider.consent_provider(profile(CredentialRetrieval.AZURE_AD_OAUTH, exchange_online_tenant_id=tenant))
    assert chosen.authorize_endpoint == f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
    assert chosen.token_endpoint == f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    assert "offline_access" in chosen.scopes and "https://outlook.office.com/SMTP.Send" in chosen.scopes
    anyone = provider.consent_provider(profile(CredentialRetrieval.AZURE_AD_OAUTH), "https://login.example.test/")
    assert anyone.token_endpoint == "https://login.example.test/organizations/oauth2/v2.0/token"


def test_the_profiles_endpoints_replace_the_defaults() -> None:
    chosen = provider.consent_provider(
        profile(
            CredentialRetrieval.GMAIL_OAUTH,
            oauth_authorize_endpoint="https://idp.example.test/auth",
            oauth_token_endpoint="https://idp.example.test/token",
        )
    )
    assert (chosen.authorize_endpoint, chosen.token_endpoint) == (
        "https://idp.example.test/auth",
        "https://idp.example.test/token",
    )


def test_the_authorize_url_carries_the_challenge_not_the_verifier() -> None:
    chosen = provider.consent_provider(profile(CredentialRetrieval.GMAIL_OAUTH))
    url = provider.authorize_url(
        chosen, client_id="c1", redirect_uri="https://app/api/oauth/callback", state="s1", verifier="v" * 64,
        login_hint="alice@example.test",
    )  # fmt: skip
    query = {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "c1",
        "redirect_uri": "https://app/api/oauth/callback",
        "scope": "https://mail.google.com/",
        "state": "s1",
        "code_challenge": provider.s256_challenge("v" * 64),
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
        "login_hint": "alice@example.test",
    }
    assert "v" * 64 not in url


@pytest.mark.parametrize(
    ("status", "body", "kind", "code"),
    [
        (400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}, ConsentRevoked,
         "OAuthConsentRevoked"),
        (401, {"error": "invalid_client", "error_description": "Unauthorized"}, MailAuthenticationError,
         "InvalidClientCredentials"),
        (400, {"error": "unauthorized_client"}, MailAuthenticationError, "InvalidClientCredentials"),
        (503, {}, TransientMailError, "IdentityProviderUnavailable"),
        (400, {"error": "temporarily_unavailable"}, TransientMailError, "IdentityProviderUnavailable"),
        (400, {"error": "invalid_scope"}, PermanentMailError, "TokenRequestRefused"),
    ],
)  # fmt: skip
def test_token_endpoint_refusals_are_typed_for_the_health_policy(
    status: int, body: dict[str, str], kind: type[Exception], code: str
) -> None:
    error = refusal(status, body, "the identity provider https://idp.example.test/token")
    assert type(error) is kind and error.code == code
    assert str(body.get("error", "")) in str(error)
