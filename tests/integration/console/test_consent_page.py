"""Per-mailbox OAuth consent from the console's mailbox page, against the local Google-style OAuth server.

An administrator connects a Gmail mailbox (the local server's authorize endpoint consents at once for the login
hint and redirects to the app's callback), lands back on the mailbox page with the consent shown, and forgets it.
A reader sees no button and the server refuses their forged POST. No page ever shows a code, state or token.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from devstack.certs import TestCA
from devstack.google_oauth import GoogleOAuthServer
from sync.auth.consent_store import FIELD
from sync.auth.secrets import SecretBox, open_field, seal_field
from sync.model.fields import utcnow
from tests.integration.console.conftest import (
    DESKTOP,
    PHONE,
    READER,
    ConsoleWorld,
    screenshot,
    sign_in,
)
from tests.integration.oauth.conftest import gmail_profile

pytestmark = pytest.mark.integration

TESTCLIENT_CALLBACK = "http://testserver/api/oauth/callback"
CLIENT_SECRET = "console-consent-secret"
CONNECT = "Connect the mailbox (sign in with Google)"
FORGET = "Forget the consent"


@dataclass(frozen=True)
class GmailWorld:
    world: ConsoleWorld
    google: GoogleOAuthServer
    profile_id: str


@pytest.fixture(scope="module")
def google(test_ca: TestCA) -> Iterator[GoogleOAuthServer]:
    with GoogleOAuthServer(test_ca) as server:
        yield server


@pytest.fixture(scope="module")
def gmail(console_server: ConsoleWorld, google: GoogleOAuthServer) -> GmailWorld:
    """A Gmail OAuth profile on the console's organization, its OAuth client registered at the local server for
    the callback of the test client and of the app served to the browser."""
    client_id = f"console-{uuid.uuid4().hex[:8]}.apps.googleusercontent.com"
    callbacks = {TESTCLIENT_CALLBACK, f"{console_server.base_url}/api/oauth/callback"}
    google.grants.add_client(client_id, CLIENT_SECRET, callbacks)
    profile = gmail_profile(google, oauth_client_id=client_id)
    seal_field(SecretBox(console_server.settings.aes_key()), profile, "oauth_client_secret", CLIENT_SECRET)
    console_server.store.profiles.insert(profile)
    return GmailWorld(console_server, google, profile.id)


def gmail_mailbox(gmail: GmailWorld) -> tuple[str, str]:
    """A new user whose mailbox is on the Gmail profile: (mailbox id, address)."""
    address = f"console-g-{uuid.uuid4().hex[:8]}@example.test"
    with gmail.world.api() as api:
        user = api.post("/api/users", json={"full_name": f"Gail {address[:18]}", "internal_email_address": address})
        assert user.status_code == 201, user.text
        mailbox_id = str(user.json()["default_mailbox_id"])
        moved = api.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": gmail.profile_id})
        assert moved.status_code == 200, moved.text
    return mailbox_id, address


def connect(client: TestClient, csrf: str, mailbox_id: str) -> str:
    """Press Connect: the provider's authorize URL the console redirects to."""
    answer = client.post(
        f"/console/mailboxes/{mailbox_id}/oauth-consent", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def at_provider(authorize_url: str, test_ca: TestCA) -> str:
    """What the browser does at the provider: it answers with a redirect to the app's callback (path and query)."""
    answer = requests.get(authorize_url, allow_redirects=False, verify=str(test_ca.ca_cert), timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(TESTCLIENT_CALLBACK)
    return location.removeprefix("http://testserver")


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def moves_on_to(html: str) -> str:
    """The URL a page's meta refresh moves on to."""
    found = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', html)
    assert found, html
    return found.group(1).replace("&amp;", "&")


def assert_no_secret(html: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret and secret not in html


def test_an_admin_connects_a_gmail_mailbox_and_lands_back_on_its_page(
    gmail: GmailWorld, client: TestClient, test_ca: TestCA
) -> None:
    mailbox_id, address = gmail_mailbox(gmail)
    csrf = sign_in(client, gmail.world)
    before = client.get(f"/console/mailboxes/{mailbox_id}")
    assert "No consent held" in before.text and CONNECT in before.text and FORGET not in before.text
    policy = before.headers["content-security-policy"]
    assert f"form-action 'self' {gmail.google.issuer}" in policy  # the Connect form may end at the provider

    authorize_url = connect(client, csrf, mailbox_id)
    sent = query_of(authorize_url)
    assert authorize_url.startswith(gmail.google.authorize_url)
    assert sent["login_hint"] == address and sent["redirect_uri"] == TESTCLIENT_CALLBACK
    callback = at_provider(authorize_url, test_ca)
    back = client.get(callback, follow_redirects=False)

    assert back.status_code == 200 and back.headers["content-type"].startswith("text/html")
    assert moves_on_to(back.text) == f"/console/mailboxes/{mailbox_id}?consent=recorded"
    page = client.get(moves_on_to(back.text))
    assert "Consent recorded" in page.text and "Run Test &amp; Enable" in page.text
    assert "Consent held: the mailbox signs in to Google with its own consent, given 20" in page.text
    assert FORGET in page.text
    stored = gmail.world.store.get_mailbox(mailbox_id)
    refresh_token = open_field(SecretBox(gmail.world.settings.aes_key()), stored, FIELD)
    assert refresh_token and stored.oauth_refresh_token
    secrets = (refresh_token, stored.oauth_refresh_token, sent["state"], query_of(callback)["code"])
    for html in (before.text, back.text, page.text):
        assert_no_secret(html, *secrets)


def test_forget_drops_the_consent(gmail: GmailWorld, client: TestClient, test_ca: TestCA) -> None:
    mailbox_id, _ = gmail_mailbox(gmail)
    csrf = sign_in(client, gmail.world)
    assert client.get(at_provider(connect(client, csrf, mailbox_id), test_ca)).status_code == 200

    forgotten = client.post(f"/console/mailboxes/{mailbox_id}/oauth-consent/forget", data={"csrf_token": csrf})

    assert forgotten.status_code == 200 and "Consent forgotten" in forgotten.text
    assert "No consent held" in forgotten.text and FORGET not in forgotten.text
    stored = gmail.world.store.get_mailbox(mailbox_id)
    assert stored.oauth_refresh_token is None and stored.oauth_consented_on is None


def test_a_reader_sees_no_button_and_a_forged_post_is_refused(
    gmail: GmailWorld, client: TestClient, test_ca: TestCA
) -> None:
    mailbox_id, _ = gmail_mailbox(gmail)
    admin_csrf = sign_in(client, gmail.world)
    assert client.get(at_provider(connect(client, admin_csrf, mailbox_id), test_ca)).status_code == 200
    without_token = client.post(
        f"/console/mailboxes/{mailbox_id}/oauth-consent", data={"csrf_token": "forged"}, follow_redirects=False
    )
    csrf = sign_in(client, gmail.world, READER)

    page = client.get(f"/console/mailboxes/{mailbox_id}")
    started = client.post(
        f"/console/mailboxes/{mailbox_id}/oauth-consent", data={"csrf_token": csrf}, follow_redirects=False
    )
    forgotten = client.post(f"/console/mailboxes/{mailbox_id}/oauth-consent/forget", data={"csrf_token": csrf})

    assert "Consent held" in page.text  # a reader sees the state ...
    assert CONNECT not in page.text and FORGET not in page.text  # ... and no button
    assert gmail.google.issuer not in page.headers["content-security-policy"]
    assert without_token.status_code == 403
    assert started.status_code == 403 and "Sync.Admin" in started.text
    assert forgotten.status_code == 403
    assert gmail.world.store.get_mailbox(mailbox_id).oauth_refresh_token is not None


def test_the_providers_refusal_is_shown_in_words(gmail: GmailWorld, client: TestClient, test_ca: TestCA) -> None:
    mailbox_id, _ = gmail_mailbox(gmail)
    csrf = sign_in(client, gmail.world)
    gmail.google.grants.deny_consent = True
    try:
        callback = at_provider(connect(client, csrf, mailbox_id), test_ca)
    finally:
        gmail.google.grants.deny_consent = False

    back = client.get(callback)
    page = client.get(moves_on_to(back.text))

    assert back.status_code == 400 and back.headers["content-type"].startswith("text/html")
    assert "refused access (or cancelled) (access_denied). Nothing was stored." in page.text
    assert "No consent held" in page.text
    assert_no_secret(back.text + page.text, query_of(callback)["state"])
    assert gmail.world.store.get_mailbox(mailbox_id).oauth_refresh_token is None


def test_an_expired_console_consent_goes_back_to_the_page(
    gmail: GmailWorld, client: TestClient, test_ca: TestCA
) -> None:
    mailbox_id, _ = gmail_mailbox(gmail)
    csrf = sign_in(client, gmail.world)
    callback = at_provider(connect(client, csrf, mailbox_id), test_ca)
    context = gmail.world.console.context
    later = utcnow() + timedelta(minutes=11)
    context.clock = lambda: later
    try:
        back = client.get(callback)
    finally:
        context.clock = utcnow

    assert back.status_code == 400
    assert moves_on_to(back.text) == f"/console/mailboxes/{mailbox_id}?consent=expired"
    assert "expired" in client.get(moves_on_to(back.text)).text
    assert gmail.world.store.get_mailbox(mailbox_id).oauth_refresh_token is None


def test_a_crafted_outcome_shows_nothing_and_password_mailboxes_have_no_consent(
    gmail: GmailWorld, client: TestClient
) -> None:
    mailbox_id, _ = gmail_mailbox(gmail)
    sign_in(client, gmail.world)

    crafted = client.get(f"/console/mailboxes/{mailbox_id}", params={"consent": "Your account is hacked"})
    password = client.get(f"/console/mailboxes/{gmail.world.mailboxes['alice@example.test']}")

    assert crafted.status_code == 200 and 'id="result"' not in crafted.text and "hacked" not in crafted.text
    assert "OAuth consent" not in password.text and CONNECT not in password.text


def test_a_consent_that_cannot_start_is_reported_on_the_page(gmail: GmailWorld, client: TestClient) -> None:
    """The panel shows only when the API's start would accept: an OAuth profile without a client shows none."""
    no_client = gmail_profile(gmail.google, name=f"Gmail without client {uuid.uuid4().hex[:6]}")
    gmail.world.store.profiles.insert(no_client)
    mailbox_id, _ = gmail_mailbox(gmail)
    with gmail.world.api() as api:
        assert api.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": no_client.id}).is_success
    csrf = sign_in(client, gmail.world)

    page = client.get(f"/console/mailboxes/{mailbox_id}")
    forced = client.post(f"/console/mailboxes/{mailbox_id}/oauth-consent", data={"csrf_token": csrf})

    assert CONNECT not in page.text
    assert forced.status_code == 200 and "names no OAuth client" in forced.text


# --- in Chromium: the whole round trip through the provider, at both widths -----------------------------------


def test_connect_and_forget_in_the_browser(browser: Browser, gmail: GmailWorld) -> None:
    mailbox_id, _ = gmail_mailbox(gmail)
    world = gmail.world
    # the local provider's certificate comes from the test CA, which this Chromium profile does not know
    context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)
    try:
        page = context.new_page()
        seen: list[str] = []
        page.on("request", lambda request: seen.append(request.url))
        page.goto(world.link())
        expect(page).to_have_url(re.compile(r"/console/mailboxes$"))
        page.goto(f"{world.base_url}/console/mailboxes/{mailbox_id}")
        expect(page.locator("#consent-state")).to_contain_text("No consent held")

        page.get_by_role("button", name=CONNECT).click()

        expect(page).to_have_url(f"{world.base_url}/console/mailboxes/{mailbox_id}?consent=recorded")
        expect(page.locator("#result")).to_contain_text("Consent recorded")
        expect(page.locator("#consent-state")).to_contain_text("Consent held")
        callback = next(url for url in seen if "/api/oauth/callback" in url)
        stored = world.store.get_mailbox(mailbox_id)
        token = open_field(SecretBox(world.settings.aes_key()), stored, FIELD) or ""
        secrets = (query_of(callback)["code"], query_of(callback)["state"], token, stored.oauth_refresh_token or "")
        assert_no_secret(page.content(), *secrets)
        screenshot(page, "mailbox-consent-recorded")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "mailbox-consent-recorded")

        page.get_by_role("button", name=FORGET).click()

        expect(page.locator("#result")).to_contain_text("Consent forgotten")
        expect(page.locator("#consent-state")).to_contain_text("No consent held")
        assert_no_secret(page.content(), *secrets)

        gmail.google.grants.deny_consent = True  # the owner clicks "Cancel" at the provider
        try:
            page.get_by_role("button", name=CONNECT).click()
            expect(page).to_have_url(re.compile(r"\?consent=denied&provider_error=access_denied$"))
        finally:
            gmail.google.grants.deny_consent = False
        expect(page.locator("#result")).to_contain_text("refused access (or cancelled) (access_denied)")
        screenshot(page, "mailbox-consent-refused")
    finally:
        context.close()
