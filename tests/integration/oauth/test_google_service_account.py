"""Google Workspace domain-wide delegation through google-auth, against the local Google-style OAuth server."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
import requests

from devstack import free_port
from devstack.google_oauth import GoogleOAuthServer
from devstack.google_oauth_grants import JWT_BEARER, MAIL_SCOPE
from sync.auth.google import GoogleServiceAccountTokens
from sync.auth.secrets import SecretBox, seal_field
from sync.mail.errors import MailAuthenticationError, TransientMailError
from sync.model import Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EntityType
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from tests.integration.oauth.conftest import gmail_profile, new_address, with_service_account

pytestmark = pytest.mark.integration


def mailbox(address: str) -> Mailbox:
    return Mailbox(name=address, email_address=address, owner=EntityRef(type=EntityType.SYSTEM_USER, id="u1"))


def claims(google_oauth: GoogleOAuthServer, token: str) -> dict[str, object]:
    key = jwt.PyJWKSet.from_dict(google_oauth.grants.jwks()).keys[0].key
    decoded: dict[str, object] = jwt.decode(token, key, algorithms=["RS256"], audience=MAIL_SCOPE)
    return decoded


def test_the_service_account_impersonates_the_mailbox_address(
    google_oauth: GoogleOAuthServer, box: SecretBox, session: requests.Session
) -> None:
    account = google_oauth.grants.add_service_account(f"sync-{new_address().split('@')[0]}@p.iam.gserviceaccount.com")
    profile = gmail_profile(google_oauth)
    with_service_account(box, profile, account.key_file("https://oauth2.googleapis.com/token"))  # Google's own
    address = new_address()
    source = GoogleServiceAccountTokens(box, session)

    token = source.token(mailbox(address), profile)

    issued = claims(google_oauth, token)
    assert issued["sub"] == address and issued["email"] == address
    assert issued["scope"] == MAIL_SCOPE
    assert issued["azp"] == account.client_id


def test_a_token_is_reused_until_it_nears_expiry_or_the_server_refused_it(
    google_oauth: GoogleOAuthServer, box: SecretBox, session: requests.Session
) -> None:
    account = google_oauth.grants.add_service_account(f"reuse-{new_address().split('@')[0]}@p.iam.gserviceaccount.com")
    profile = gmail_profile(google_oauth)
    with_service_account(box, profile, account.key_file(google_oauth.token_url))
    now = [utcnow()]
    source = GoogleServiceAccountTokens(box, session, clock=lambda: now[0])
    target = mailbox(new_address())
    before = google_oauth.grants.grants.get(JWT_BEARER, 0)

    first = source.token(target, profile)
    assert source.token(target, profile) == first
    assert google_oauth.grants.grants[JWT_BEARER] == before + 1

    forced = source.token(target, profile, force_refresh=True)
    assert forced != first
    now[0] += timedelta(minutes=55)  # within ten minutes of the hour's expiry
    aged = source.token(target, profile)
    assert aged != forced
    assert google_oauth.grants.grants[JWT_BEARER] == before + 3


def test_without_domain_wide_delegation_the_alert_says_where_to_grant_it(
    google_oauth: GoogleOAuthServer, box: SecretBox, session: requests.Session
) -> None:
    account = google_oauth.grants.add_service_account("nodelegation@p.iam.gserviceaccount.com", delegated=False)
    profile = gmail_profile(google_oauth)
    key_file = account.key_file(google_oauth.token_url)
    with_service_account(box, profile, key_file)

    with pytest.raises(MailAuthenticationError) as refused:
        GoogleServiceAccountTokens(box, session).token(mailbox(new_address()), profile)

    assert refused.value.code == "DomainWideDelegationMissing"
    assert "Domain-wide delegation" in str(refused.value) and "unauthorized_client" in str(refused.value)
    assert key_file["private_key"].splitlines()[1] not in str(refused.value)


def test_a_key_google_no_longer_knows_is_a_credentials_failure(
    google_oauth: GoogleOAuthServer, box: SecretBox, session: requests.Session
) -> None:
    kept = google_oauth.grants.add_service_account("rotated@p.iam.gserviceaccount.com")
    old_key = kept.key_file(google_oauth.token_url)
    google_oauth.grants.add_service_account("rotated@p.iam.gserviceaccount.com")  # a new key replaced the old one
    profile = gmail_profile(google_oauth)
    with_service_account(box, profile, old_key)

    with pytest.raises(MailAuthenticationError) as refused:
        GoogleServiceAccountTokens(box, session).token(mailbox(new_address()), profile)

    assert refused.value.code == "ServiceAccountGrantRefused"
    assert "Invalid JWT Signature" in str(refused.value)


@pytest.mark.parametrize(
    ("key_text", "code"),
    [
        (None, "CredentialsMissing"),
        ("not json", "InvalidServiceAccountKey"),
        (json.dumps({"type": "x"}), "InvalidServiceAccountKey"),
    ],
)
def test_a_missing_or_malformed_key_is_a_credentials_failure(
    google_oauth: GoogleOAuthServer, box: SecretBox, session: requests.Session, key_text: str | None, code: str
) -> None:
    profile = gmail_profile(google_oauth)
    seal_field(box, profile, "google_service_account_key", key_text)

    with pytest.raises(MailAuthenticationError) as refused:
        GoogleServiceAccountTokens(box, session).token(mailbox(new_address()), profile)

    assert refused.value.code == code


def test_the_services_serve_gmail_oauth_profiles_from_the_service_account(
    google_oauth: GoogleOAuthServer, oauth_settings: Settings, isolated_store: Store, box: SecretBox
) -> None:
    account = google_oauth.grants.add_service_account("wired@p.iam.gserviceaccount.com")
    profile = gmail_profile(google_oauth)
    with_service_account(box, profile, account.key_file(google_oauth.token_url))
    address = new_address()

    token = Services(oauth_settings, isolated_store).mail_tokens.token(mailbox(address), profile)

    assert claims(google_oauth, token)["sub"] == address


def test_an_unreachable_token_endpoint_is_transient(
    google_oauth: GoogleOAuthServer, box: SecretBox, session: requests.Session
) -> None:
    account = google_oauth.grants.add_service_account("offline@p.iam.gserviceaccount.com")
    profile = gmail_profile(google_oauth, oauth_token_endpoint=f"https://localhost:{free_port()}/token")
    with_service_account(box, profile, account.key_file(google_oauth.token_url))

    with pytest.raises(TransientMailError) as unreachable:
        GoogleServiceAccountTokens(box, session).token(mailbox(new_address()), profile)

    assert unreachable.value.code == "IdentityProviderUnavailable"
