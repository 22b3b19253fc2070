"""The insight pages in the console, over HTTP and in Debian's Chromium, against the console's world on the local
stack: the explanation of an email not tracked (on its mailbox's page and found by searching every mailbox), a
profile's page and its Test & Enable as background work with a progress page, the alerts wall, the dashboard.
Hostile markup renders as text; a reader sees no action and is refused one; screenshots at 1280 px and phone
width go to test-output/console/."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from playwright.sync_api import Page, expect

from sync.auth.secrets import SecretBox
from sync.incoming.worker import MailboxWorker
from sync.model.fields import utcnow
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.test_enable_queue import TestEnableWork
from sync.services import Services, incoming_connectors
from sync.store.names import Queue
from tests.integration.console.conftest import (
    DESKTOP,
    HOSTILE_INBOX,
    HOSTILE_SUBJECT,
    PHONE,
    READER,
    ConsoleWorld,
    screenshot,
    sign_in,
)
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration

STRANGER = "stranger@elsewhere.test"  # the hostile email's sender (tests/integration/console/conftest.py)
CREATE_CONTACT = f"no CRM record has the sender's address: create a contact for {STRANGER}"
CREATE_CONTACT_HTML = str(escape(CREATE_CONTACT))  # as the templates escape it


@dataclass
class TestProfile:
    """A profile of its own with a mailbox that passes Test & Enable and one whose password is wrong."""

    __test__ = False  # not a pytest class
    id: str
    name: str
    good: str
    wrong: str


def _user(api: TestClient, world: ConsoleWorld, profile_id: str, password: str) -> str:
    dovecot, smtp = world.extra["mail"]
    address = f"insights-{uuid.uuid4().hex[:8]}@example.test"
    dovecot.add_user(address, MAIL_PASSWORD)
    smtp.add_user(address, MAIL_PASSWORD)
    user = api.post("/api/users", json={"full_name": f"User {address}", "internal_email_address": address})
    assert user.status_code == 201, user.text
    mailbox_id = str(user.json()["default_mailbox_id"])
    assert api.post(f"/api/mailboxes/{mailbox_id}/approve").status_code == 200
    changes = {
        "email_server_profile_id": profile_id, "username": address, "password": password,
        "allow_credentials_for_email_processing": True,
    }  # fmt: skip
    assert api.patch(f"/api/mailboxes/{mailbox_id}", json=changes).status_code == 200
    return mailbox_id


@pytest.fixture(scope="module")
def test_profile(console_world: ConsoleWorld, console_mail: tuple[object, object]) -> TestProfile:
    console_world.extra["mail"] = console_mail
    alice = console_world.store.get_mailbox(console_world.mailboxes["alice@example.test"])
    demo = console_world.store.get_profile(alice.email_server_profile_id or "")
    name = f"Insights {uuid.uuid4().hex[:6]}"
    fields = ("server_type", "incoming_server_location", "incoming_port", "incoming_tls", "outgoing_server_location",
              "outgoing_port", "outgoing_tls", "timeout_mailbox_connection_after_ms")  # fmt: skip
    body = {"name": name, **{f: getattr(demo, f) for f in fields}}
    body["incoming_tls"], body["outgoing_tls"] = int(demo.incoming_tls), int(demo.outgoing_tls)
    with console_world.api() as api:
        created = api.post("/api/profiles", json=body)
        assert created.status_code == 201, created.text
        profile_id = created.json()["id"]
        good = _user(api, console_world, profile_id, MAIL_PASSWORD)
        wrong = _user(api, console_world, profile_id, MAIL_PASSWORD)
        for mailbox_id in (good, wrong):
            assert api.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
        assert api.patch(f"/api/mailboxes/{wrong}", json={"password": "not-the-password"}).status_code == 200
    _sync_once(console_world, wrong)  # a real cycle fails to log in: failing in the last hour, with alerts
    return TestProfile(profile_id, name, good, wrong)


def _sync_once(world: ConsoleWorld, mailbox_id: str) -> None:
    store, settings = world.store, world.settings
    mailbox = store.get_mailbox(mailbox_id)
    item = Scheduler(store, settings, lambda item: None).claim(
        mailbox, store.find_profile(mailbox.email_server_profile_id or ""), utcnow()
    )
    assert item is not None
    MailboxWorker(store, settings, SecretBox(settings.aes_key()), incoming_connectors()).run(item)
    assert store.get_mailbox(mailbox_id).last_sync_error_count > 0


def run_queued_tests(world: ConsoleWorld) -> list[str]:
    """What the ``test-and-enable`` queue trigger does with each message waiting now."""
    queue = world.store.account.queue(Queue.TEST_AND_ENABLE)
    services = Services(world.settings, world.store)
    outcomes = []
    while messages := list(queue.receive_messages(messages_per_page=16, visibility_timeout=60)):
        for message in messages:
            outcomes.append(services.run_queued_test(TestEnableWork.model_validate_json(message.content)))
            queue.delete_message(message)
    return outcomes


# --- over HTTP --------------------------------------------------------------------------------------------------
def test_the_mailbox_page_says_what_would_track_each_email(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world, READER)
    page = client.get(f"/console/mailboxes/{console_world.mailboxes[HOSTILE_INBOX]}")
    assert page.status_code == 200, page.text
    assert CREATE_CONTACT_HTML in page.text
    assert "Email messages in response to Dynamics 365 email" in page.text
    assert "<script>window.hacked" not in page.text and "&lt;script&gt;window.hacked" in page.text


def test_the_search_finds_an_email_by_sender_or_subject_across_mailboxes(
    client: TestClient, console_world: ConsoleWorld
) -> None:
    sign_in(client, console_world, READER)
    for by, value in (("sender", STRANGER.upper()), ("subject", f"RE: {HOSTILE_SUBJECT}")):
        page = client.get("/console/not-tracked", params={"by": by, "q": value})
        assert page.status_code == 200, page.text
        assert "1 email found" in page.text and CREATE_CONTACT_HTML in page.text
        assert f"/console/mailboxes/{console_world.mailboxes[HOSTILE_INBOX]}" in page.text
        assert 'filtering method</span> <small class="muted reason-code">NoCorrelationMatch</small>' in page.text
    nothing = client.get("/console/not-tracked", params={"by": "message_id", "q": "<nobody@nowhere.test>"})
    assert "No mailbox recorded such an email" in nothing.text and "Only the Inbox is evaluated" in nothing.text


def test_a_profiles_test_and_enable_runs_in_the_background_with_a_progress_page(
    client: TestClient, console_world: ConsoleWorld, test_profile: TestProfile
) -> None:
    csrf = sign_in(client, console_world)
    page = client.get(f"/console/profiles/{test_profile.id}")
    assert page.status_code == 200, page.text
    assert "1 of 2 mailboxes failed in the last hour" in page.text
    started = client.post(
        f"/console/profiles/{test_profile.id}/test-and-enable", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert started.status_code == 303, started.text  # nothing was tested inside the request
    progress = started.headers["location"]
    waiting = client.get(progress)
    assert "0 of 2 tested" in waiting.text and '<meta http-equiv="refresh" content="2">' in waiting.text
    assert sorted(run_queued_tests(console_world)) == ["tested", "tested"]
    done = client.get(progress)
    assert "2 of 2 tested: 1 succeeded, 1 failed; done." in done.text
    assert 'http-equiv="refresh"' not in done.text  # nothing left to wait for: the page stops polling


def test_a_reader_cannot_start_a_profiles_test_or_dismiss_an_alert(
    client: TestClient, console_world: ConsoleWorld, test_profile: TestProfile
) -> None:
    csrf = sign_in(client, console_world, READER)
    page = client.get(f"/console/profiles/{test_profile.id}")
    assert "Test &amp; Enable all mailboxes" not in page.text
    refused = client.post(f"/console/profiles/{test_profile.id}/test-and-enable", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "Sync.Admin" in refused.text
    wall = client.get("/console/alerts")
    assert wall.status_code == 200 and ">Dismiss<" not in wall.text
    [alert] = [a for a in console_world.store.alerts.partition(test_profile.wrong) if not a.dismissed][:1]
    dismissed = client.post(f"/console/alerts/{test_profile.wrong}/{alert.code}/dismiss", data={"csrf_token": csrf})
    assert dismissed.status_code == 403
    forged = client.post(f"/console/alerts/{test_profile.wrong}/{alert.code}/dismiss", data={"csrf_token": "forged"})
    assert forged.status_code in (400, 403)


def test_the_dashboard_draws_the_last_day(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world, READER)
    page = client.get("/console/dashboard")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg viewBox=") >= 3 and "<script" not in page.text.split("</head>")[1]
    reasons = page.text.split('id="reasons"')[1].split("</table>")[0]
    # the hostile email, not tracked by a real cycle: in words, its code name beside them
    assert "Not accepted by the owner&#39;s filtering method</span>" in reasons
    assert '<small class="muted reason-code">NoCorrelationMatch</small>' in reasons
    assert "<td>NoCorrelationMatch</td>" not in reasons


# --- in the browser ---------------------------------------------------------------------------------------------
def open_console(page: Page, world: ConsoleWorld, roles: frozenset[str] | None = None) -> None:
    page.goto(world.link(roles) if roles else world.link())
    expect(page).to_have_url(re.compile(r"/console/mailboxes$"))


def fits_a_phone(page: Page, name: str) -> None:
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    screenshot(page, name)


def test_open_a_not_tracked_emails_explanation(page: Page, console_server: ConsoleWorld) -> None:
    open_console(page, console_server)
    page.get_by_role("link", name="Why not tracked?").click()
    page.get_by_label("Search by").select_option("sender")
    page.get_by_label("Value").fill(STRANGER)
    page.get_by_label("Value").press("Enter")
    hit = page.locator("article.hit")
    expect(hit).to_have_count(1)
    expect(hit.locator(".subject")).to_have_text(HOSTILE_SUBJECT)  # markup shown as text
    expect(hit.locator(".would-track li").first).to_contain_text(CREATE_CONTACT)
    assert page.evaluate("window.hacked") is None
    assert page.locator("article.hit script").count() == 0
    screenshot(page, "not-tracked-search")
    fits_a_phone(page, "not-tracked-search")


def test_the_profile_page_runs_test_and_enable_and_follows_it(
    page: Page, console_server: ConsoleWorld, test_profile: TestProfile
) -> None:
    open_console(page, console_server)
    page.get_by_role("link", name="Profiles").click()
    page.get_by_role("link", name=test_profile.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(test_profile.name)
    expect(page.locator("#profile-mailboxes tbody tr")).to_have_count(2)
    expect(page.locator("#share")).to_contain_text("1 of 2 mailboxes failed in the last hour")
    screenshot(page, "profile")
    fits_a_phone(page, "profile")
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Test & Enable all mailboxes").click()
    expect(page.locator("#progress-text")).to_contain_text("0 of 2 tested")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1  # the page polls while tests wait
    screenshot(page, "profile-test-waiting")
    run_queued_tests(console_server)
    page.reload()
    expect(page.locator("#progress-text")).to_contain_text("2 of 2 tested: 1 succeeded, 1 failed; done.")
    screenshot(page, "profile-test-done")
    fits_a_phone(page, "profile-test-done")


def test_the_alerts_wall_dismisses_an_alert(
    page: Page, console_server: ConsoleWorld, test_profile: TestProfile
) -> None:
    open_console(page, console_server)
    page.get_by_role("link", name="Alerts").click()
    ours = page.locator("#alerts-wall .card", has=page.locator(f'a[href="/console/mailboxes/{test_profile.wrong}"]'))
    before = ours.count()
    assert before >= 1
    screenshot(page, "alerts")
    ours.first.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.locator("#result")).to_have_text("alert dismissed")
    expect(ours).to_have_count(before - 1)
    fits_a_phone(page, "alerts")


def test_the_dashboard_charts_at_both_widths(page: Page, console_server: ConsoleWorld) -> None:
    open_console(page, console_server)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("img", name=re.compile("Emails tracked and not tracked"))).to_be_visible()
    expect(page.locator("#reasons")).to_contain_text("NoCorrelationMatch")
    screenshot(page, "dashboard")
    fits_a_phone(page, "dashboard")


UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map(e => e.outerHTML)"""


def test_every_control_of_the_insight_pages_is_labelled(
    page: Page, console_server: ConsoleWorld, test_profile: TestProfile
) -> None:
    open_console(page, console_server)
    for path in ("/console/profiles", f"/console/profiles/{test_profile.id}", "/console/alerts", "/console/dashboard",
                 "/console/not-tracked?by=sender&q=stranger%40elsewhere.test"):  # fmt: skip
        page.goto(f"{console_server.base_url}{path}")
        assert page.evaluate(UNLABELLED) == [], path
        assert page.locator("[tabindex]:not([tabindex='-1']):not([tabindex='0'])").count() == 0, path
