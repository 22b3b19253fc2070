"""Test & Enable of an OAuth (app-only, Exchange Online) IMAP/SMTP profile, end to end through the admin API
(R-TE-1..5, R-PROV-8): incoming logs in to Dovecot and outgoing sends the test email through the SMTP server,
both with tokens from the Entra ID stand-in; a wrong audience fails with the credentials alert in the server's
words; no token reaches a log line, an alert or an API response.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from devstack import Dovecot, SmtpServer
from devstack.entra import EntraMock
from sync.api.app import create_app
from sync.auth.secrets import SecretBox
from sync.health.enable_alerts import CODE_TEST_INCOMING_FAILED, CODE_TEST_SUCCEEDED
from sync.model.options import TestStatus
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN, MailWorld
from tests.integration.mail.oauth_fixtures import (  # noqa: F401 - fixtures
    mail_entra,
    oauth_mail_servers,
    oauth_profile,
)

pytestmark = pytest.mark.integration

JWT_START = "eyJ0"  # base64url of '{"t' ('{"typ"...'): how the stand-in's tokens, and Entra's, begin


@pytest.fixture(scope="module")
def oauth_app(
    api_settings: Settings,
    isolated_store: Store,
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
) -> FastAPI:
    """The admin API whose Entra ID authority for mail tokens is the stand-in."""
    settings = api_settings.model_copy(update={"entra_authority": mail_entra.authority})
    return create_app(settings, lambda: isolated_store)


@pytest.fixture(scope="module")
def oauth_admin(oauth_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(oauth_app, headers=ADMIN) as client:
        yield client


def _oauth_mailbox(
    admin: TestClient,
    world: MailWorld,
    box: SecretBox,
    servers: tuple[Dovecot, SmtpServer],
    audience: str | None = None,
) -> str:
    profile = world.store.profiles.insert(oauth_profile(box, *servers, aad_resource_id=audience))
    return world.new_user(admin, profile_id=profile.id)


def _no_token_in(*texts: str) -> None:
    for text in texts:
        assert JWT_START not in text


def test_an_oauth_imap_smtp_profile_passes_test_and_enable(
    oauth_admin: TestClient,
    mail_world: MailWorld,
    box: SecretBox,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert mail_entra.token().startswith(JWT_START)  # what the check for leaked tokens looks for
    caplog.set_level(logging.DEBUG)
    mailbox_id = _oauth_mailbox(oauth_admin, mail_world, box, oauth_mail_servers)
    address = mail_world.store.get_mailbox(mailbox_id).email_address
    smtp = oauth_mail_servers[1]
    logins_before = len(smtp.logins)

    tested = oauth_admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
    assert tested.status_code == 200 and tested.json()["succeeded"], tested.text
    mailbox = mail_world.store.get_mailbox(mailbox_id)
    assert (mailbox.incoming_status, mailbox.outgoing_status) == (TestStatus.SUCCESS, TestStatus.SUCCESS)
    assert mailbox.enabled_for_incoming and mailbox.enabled_for_outgoing
    assert [login for login in smtp.logins[logins_before:] if login[1] == address] == [("XOAUTH2", address)]
    alerts = oauth_admin.get("/api/alerts", params={"mailbox_id": mailbox_id})
    assert CODE_TEST_SUCCEEDED in {alert["code"] for alert in alerts.json()["items"]}
    shown = oauth_admin.get(f"/api/mailboxes/{mailbox_id}")
    _no_token_in(tested.text, alerts.text, shown.text, caplog.text)


def test_a_wrong_audience_fails_with_the_credentials_alert_in_the_servers_words(
    oauth_admin: TestClient,
    mail_world: MailWorld,
    box: SecretBox,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Tokens for Graph, not Exchange Online: Dovecot and the SMTP server refuse them."""
    caplog.set_level(logging.DEBUG)
    mailbox_id = _oauth_mailbox(
        oauth_admin, mail_world, box, oauth_mail_servers, audience="https://graph.microsoft.com"
    )
    tested = oauth_admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
    assert tested.status_code == 200 and not tested.json()["succeeded"], tested.text
    problems = {problem["workload"]: problem for problem in tested.json()["problems"]}
    assert problems["incoming"]["code"] == "OAuthTokenRejected"
    assert "[AUTHENTICATIONFAILED] Authentication failed." in problems["incoming"]["message"]
    assert problems["outgoing"]["code"] == "OAuthTokenScopeRejected"
    assert "535 5.7.8 Authentication unsuccessful: token is not valid for audience" in problems["outgoing"]["message"]
    mailbox = mail_world.store.get_mailbox(mailbox_id)
    assert not mailbox.enabled_for_incoming and not mailbox.enabled_for_outgoing
    alerts = oauth_admin.get("/api/alerts", params={"mailbox_id": mailbox_id})
    (incoming,) = [a for a in alerts.json()["items"] if a["code"] == CODE_TEST_INCOMING_FAILED]
    assert incoming["code_name"] == "OAuthTokenRejected"
    assert "AUTHENTICATIONFAILED" in str(incoming)
    _no_token_in(tested.text, alerts.text, caplog.text)
