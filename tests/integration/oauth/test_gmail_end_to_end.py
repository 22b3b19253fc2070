"""A Gmail profile end to end (R-PROV-16, R-PROV-8): Test & Enable logs in to Dovecot (IMAP) and sends through the
SMTP server with tokens of the local Google-style server, by domain-wide delegation and by per-mailbox consent;
a revoked consent disables the direction with the credentials alert, as a wrong password does. No token in an
answer, an alert or a log line.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack import Dovecot, SmtpServer
from devstack.certs import TestCA
from devstack.google_oauth import GoogleOAuthServer
from sync.api.app import create_app
from sync.model.options import TestStatus
from sync.scheduling.scheduler import Scheduler
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN
from tests.integration.oauth.conftest import CALLBACK, new_address, trust
from tests.integration.oauth.test_consent import CLIENT_SECRET, sign_in

pytestmark = pytest.mark.integration

JWT_START = "eyJ"  # every JWT (a token of the local server) begins so


def gmail_profile_on_local_servers(
    admin: TestClient,
    google_oauth: GoogleOAuthServer,
    dovecot: Dovecot,
    smtp: SmtpServer,
    *,
    pop3: bool = False,
    **secrets: Any,
) -> str:
    """A profile made by the Gmail template, then pointed at the local servers (secrets given again with them).

    Dovecot has no recent mode: a POP3 profile logs in with the plain address here."""
    created = admin.post("/api/profiles/gmail", json={"name": "Gmail", "pop3": pop3, **secrets})
    assert created.status_code == 201, created.text
    local = {
        "incoming_server_location": "localhost",
        "incoming_port": dovecot.pop3s_port if pop3 else dovecot.imaps_port,
        "pop3_recent_mode": False,
        "outgoing_server_location": "localhost",
        "outgoing_port": smtp.submission_port,
        "oauth_authorize_endpoint": google_oauth.authorize_url,
        "oauth_token_endpoint": google_oauth.token_url,
        "timeout_mailbox_connection_after_ms": 10_000,
    }
    moved = admin.patch(f"/api/profiles/{created.json()['id']}", json={**local, **secrets})
    assert moved.status_code == 200, moved.text
    return str(created.json()["id"])


def gmail_mailbox(admin: TestClient, dovecot: Dovecot, profile_id: str) -> tuple[str, str]:
    address = new_address()
    dovecot.add_user(address, "unused-password")  # the account exists; OAuth logs in to it
    user = admin.post("/api/users", json={"full_name": f"User {address}", "internal_email_address": address})
    assert user.status_code == 201, user.text
    mailbox_id = str(user.json()["default_mailbox_id"])
    assert admin.post(f"/api/mailboxes/{mailbox_id}/approve").status_code == 200
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": profile_id}).status_code == 200
    return mailbox_id, address


def no_token_in(*texts: str) -> None:
    for text in texts:
        assert JWT_START not in text and "1//" not in text


@pytest.mark.parametrize("pop3", [False, True], ids=["imap", "pop3"])
def test_a_gmail_profile_passes_test_and_enable_by_domain_wide_delegation(
    pop3: bool,
    admin: TestClient,
    google_oauth: GoogleOAuthServer,
    google_dovecot: Dovecot,
    google_smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    account = google_oauth.grants.add_service_account("workspace@p.iam.gserviceaccount.com")
    trust(google_oauth, google_dovecot, google_smtp, account.client_id)
    key = json.dumps(account.key_file("https://oauth2.googleapis.com/token"))
    profile_id = gmail_profile_on_local_servers(
        admin, google_oauth, google_dovecot, google_smtp, pop3=pop3, google_service_account_key=key
    )
    mailbox_id, address = gmail_mailbox(admin, google_dovecot, profile_id)

    tested = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")

    assert tested.status_code == 200 and tested.json()["succeeded"], tested.text
    assert tested.json()["incoming_status"]["name"] == "success"
    assert tested.json()["outgoing_status"]["name"] == "success"
    assert ("XOAUTH2", address) in google_smtp.logins
    alerts = admin.get("/api/alerts", params={"mailbox_id": mailbox_id})
    no_token_in(tested.text, alerts.text, admin.get(f"/api/profiles/{profile_id}").text, caplog.text)


def test_a_consented_gmail_mailbox_passes_and_a_revoked_consent_disables_it_with_the_credentials_alert(
    admin: TestClient,
    anonymous: TestClient,
    google_oauth: GoogleOAuthServer,
    google_dovecot: Dovecot,
    google_smtp: SmtpServer,
    oauth_settings: Settings,
    isolated_store: Store,
    test_ca: TestCA,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client_id = f"personal-{new_address().split('@')[0]}.apps.googleusercontent.com"
    google_oauth.grants.add_client(client_id, CLIENT_SECRET, {CALLBACK})
    trust(google_oauth, google_dovecot, google_smtp, client_id)
    profile_id = gmail_profile_on_local_servers(
        admin, google_oauth, google_dovecot, google_smtp, oauth_client_id=client_id, oauth_client_secret=CLIENT_SECRET
    )
    mailbox_id, address = gmail_mailbox(admin, google_dovecot, profile_id)
    consent = admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent")
    assert anonymous.get(sign_in(consent.json()["authorize_url"], test_ca)).status_code == 200

    tested = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
    assert tested.status_code == 200 and tested.json()["succeeded"], tested.text

    assert google_oauth.grants.revoke_subject(address) == 1  # the owner removed the app's access
    services = Services(oauth_settings, isolated_store)
    mailbox = isolated_store.get_mailbox(mailbox_id)
    item = Scheduler(isolated_store, oauth_settings, lambda _: None).claim(
        mailbox, isolated_store.get_profile(profile_id)
    )
    report = services.worker.run(item)

    assert report.status == "disabled"
    stored = isolated_store.get_mailbox(mailbox_id)
    assert not stored.enabled_for_incoming
    alerts = admin.get("/api/alerts", params={"mailbox_id": mailbox_id})
    texts = [f"{alert['text']} {alert.get('error_details')}" for alert in alerts.json()["items"]]
    assert any("has been disabled for receiving email" in text and "consent" in text for text in texts), texts
    with TestClient(create_app(oauth_settings, lambda: isolated_store), headers=ADMIN) as another_instance:
        retested = another_instance.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")  # no token cached
    problems = {problem["workload"]: problem["code"] for problem in retested.json()["problems"]}
    assert problems == {"incoming": "OAuthConsentRevoked", "outgoing": "OAuthConsentRevoked"}
    assert isolated_store.get_mailbox(mailbox_id).outgoing_status is TestStatus.FAILURE
    assert not isolated_store.get_mailbox(mailbox_id).enabled_for_outgoing
    no_token_in(tested.text, retested.text, alerts.text, caplog.text)
