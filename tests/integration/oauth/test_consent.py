"""Per-mailbox consent through the admin API: authorization code with PKCE at the local Google-style server.

The authorize endpoint consents at once for the login hint, so a test follows its redirect to the API's open
callback the way a browser would. Tokens never appear in an answer of the API.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi.testclient import TestClient

from devstack.certs import TestCA
from devstack.google_oauth import GoogleOAuthServer
from sync.api.context import ApiContext
from sync.auth.consent_flow import CONSENT_TTL, state_digest
from sync.auth.consent_store import FIELD
from sync.auth.secrets import SecretBox, open_field, seal_field
from sync.model import EmailServerProfile
from sync.model.fields import utcnow
from sync.model.options import ServerType
from sync.store import Store
from tests.integration.oauth.conftest import CALLBACK, gmail_profile, new_address

pytestmark = pytest.mark.integration

CLIENT_SECRET = "consent-client-secret"


def oauth_profile(store: Store, box: SecretBox, google_oauth: GoogleOAuthServer) -> EmailServerProfile:
    """A Gmail OAuth profile with its own OAuth client registered at the local server."""
    client_id = f"client-{uuid.uuid4().hex[:8]}.apps.googleusercontent.com"
    google_oauth.grants.add_client(client_id, CLIENT_SECRET, {CALLBACK})
    profile = gmail_profile(google_oauth, oauth_client_id=client_id)
    seal_field(box, profile, "oauth_client_secret", CLIENT_SECRET)
    return store.profiles.insert(profile)


def new_mailbox(admin: TestClient, profile: EmailServerProfile) -> tuple[str, str]:
    address = new_address()
    user = admin.post("/api/users", json={"full_name": f"User {address}", "internal_email_address": address})
    assert user.status_code == 201, user.text
    mailbox_id = str(user.json()["default_mailbox_id"])
    moved = admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": profile.id})
    assert moved.status_code == 200, moved.text
    return mailbox_id, address


def sign_in(authorize_url: str, test_ca: TestCA) -> str:
    """What the browser does at the provider: the consent page answers with a redirect to the callback."""
    answer = requests.get(authorize_url, allow_redirects=False, verify=str(test_ca.ca_cert), timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK)
    return location.removeprefix("http://testserver")


@pytest.fixture
def world(
    isolated_store: Store, box: SecretBox, google_oauth: GoogleOAuthServer, admin: TestClient
) -> tuple[EmailServerProfile, str, str]:
    profile = oauth_profile(isolated_store, box, google_oauth)
    mailbox_id, address = new_mailbox(admin, profile)
    return profile, mailbox_id, address


def test_consent_stores_a_sealed_refresh_token_and_no_answer_shows_it(
    world: tuple[EmailServerProfile, str, str],
    admin: TestClient,
    anonymous: TestClient,
    isolated_store: Store,
    box: SecretBox,
    google_oauth: GoogleOAuthServer,
    test_ca: TestCA,
) -> None:
    profile, mailbox_id, address = world
    started = admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent")
    assert started.status_code == 200, started.text
    url = urlsplit(started.json()["authorize_url"])
    query = {name: values[0] for name, values in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == google_oauth.authorize_url
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["login_hint"] == address and query["access_type"] == "offline"
    assert query["scope"] == "https://mail.google.com/" and query["redirect_uri"] == CALLBACK
    assert started.json()["redirect_uri"] == CALLBACK

    answers = [started.text]
    done = anonymous.get(sign_in(started.json()["authorize_url"], test_ca))  # no API key: a browser has none
    assert done.status_code == 200, done.text
    assert done.json()["mailbox_id"] == mailbox_id
    answers += [done.text, admin.get(f"/api/mailboxes/{mailbox_id}").text, admin.get("/api/mailboxes").text]

    stored = isolated_store.get_mailbox(mailbox_id)
    refresh_token = open_field(box, stored, FIELD)
    assert refresh_token and refresh_token.startswith("1//")
    assert stored.oauth_refresh_token_profile_id == profile.id
    assert stored.oauth_refresh_token_endpoint == google_oauth.token_url
    assert admin.get(f"/api/mailboxes/{mailbox_id}").json()["oauth_consented_on"] is not None
    for text in answers:
        assert refresh_token not in text and str(stored.oauth_refresh_token) not in text
        assert 'oauth_refresh_token"' not in text
    assert google_oauth.grants.live_refresh_tokens(address) == 1


def test_a_state_works_once(
    world: tuple[EmailServerProfile, str, str], admin: TestClient, anonymous: TestClient, test_ca: TestCA
) -> None:
    _, mailbox_id, _ = world
    callback = sign_in(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"], test_ca)
    assert anonymous.get(callback).status_code == 200

    replayed = anonymous.get(callback)

    assert replayed.status_code == 400
    assert "already used" in replayed.json()["detail"]


def test_an_expired_or_unknown_state_is_refused_and_changes_nothing(
    world: tuple[EmailServerProfile, str, str],
    admin: TestClient,
    anonymous: TestClient,
    context: ApiContext,
    isolated_store: Store,
    test_ca: TestCA,
) -> None:
    _, mailbox_id, _ = world
    callback = sign_in(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"], test_ca)
    later = utcnow() + timedelta(minutes=11)
    context.clock = lambda: later
    try:
        expired = anonymous.get(callback)
    finally:
        context.clock = utcnow
    unknown = anonymous.get("/api/oauth/callback", params={"state": "forged", "code": "x"})

    assert expired.status_code == 400 and "expired" in expired.json()["detail"]
    assert unknown.status_code == 400
    assert isolated_store.get_mailbox(mailbox_id).oauth_refresh_token is None


def test_a_refused_consent_is_reported_and_stores_nothing(
    world: tuple[EmailServerProfile, str, str],
    admin: TestClient,
    anonymous: TestClient,
    google_oauth: GoogleOAuthServer,
    isolated_store: Store,
    test_ca: TestCA,
) -> None:
    _, mailbox_id, _ = world
    google_oauth.grants.deny_consent = True
    try:
        callback = sign_in(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"], test_ca)
    finally:
        google_oauth.grants.deny_consent = False

    refused = anonymous.get(callback)

    assert refused.status_code == 400 and "access_denied" in refused.json()["detail"]
    assert isolated_store.get_mailbox(mailbox_id).oauth_refresh_token is None


def test_starting_a_consent_needs_an_administrator_and_an_oauth_profile(
    world: tuple[EmailServerProfile, str, str],
    admin: TestClient,
    anonymous: TestClient,
    isolated_store: Store,
) -> None:
    _, mailbox_id, _ = world
    password_profile = isolated_store.profiles.insert(
        EmailServerProfile(name="Passwords", server_type=ServerType.IMAP_SMTP, incoming_server_location="localhost")
    )
    other_id, _ = new_mailbox(admin, password_profile)

    assert anonymous.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").status_code == 401
    refused = admin.post(f"/api/mailboxes/{other_id}/oauth-consent")
    assert refused.status_code == 422 and "OAuth" in refused.text


def test_moving_the_mailbox_to_another_profile_forgets_its_consent(
    world: tuple[EmailServerProfile, str, str],
    admin: TestClient,
    anonymous: TestClient,
    isolated_store: Store,
    box: SecretBox,
    google_oauth: GoogleOAuthServer,
    test_ca: TestCA,
) -> None:
    _, mailbox_id, _ = world
    callback = sign_in(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"], test_ca)
    assert anonymous.get(callback).status_code == 200
    other = oauth_profile(isolated_store, box, google_oauth)

    moved = admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": other.id})

    assert moved.status_code == 200
    assert moved.json()["oauth_consented_on"] is None
    stored = isolated_store.get_mailbox(mailbox_id)
    assert stored.oauth_refresh_token is None and stored.oauth_refresh_token_profile_id is None


def test_forgetting_a_consent(
    world: tuple[EmailServerProfile, str, str],
    admin: TestClient,
    anonymous: TestClient,
    isolated_store: Store,
    test_ca: TestCA,
) -> None:
    _, mailbox_id, _ = world
    callback = sign_in(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"], test_ca)
    assert anonymous.get(callback).status_code == 200

    assert admin.delete(f"/api/mailboxes/{mailbox_id}/oauth-consent").status_code == 204

    assert isolated_store.get_mailbox(mailbox_id).oauth_refresh_token is None


def test_an_abandoned_consent_is_removed_by_a_later_one_once_expired(
    world: tuple[EmailServerProfile, str, str], admin: TestClient, context: ApiContext, isolated_store: Store
) -> None:
    """Nobody comes back to the callback of an abandoned consent, so no read expires it: the next consent
    started after its expiry removes it (the clock is injected)."""
    _, mailbox_id, _ = world

    def started_state() -> str:
        url = str(admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent").json()["authorize_url"])
        return parse_qs(urlsplit(url).query)["state"][0]

    abandoned = state_digest(started_state())
    assert isolated_store.pending_consents.find(abandoned, "consent") is not None
    later = utcnow() + CONSENT_TTL + timedelta(minutes=1)
    context.clock = lambda: later
    try:
        current = state_digest(started_state())
    finally:
        context.clock = utcnow
    assert isolated_store.pending_consents.find(abandoned, "consent") is None
    assert isolated_store.pending_consents.find(current, "consent") is not None
