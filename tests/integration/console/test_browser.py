"""The console in a real browser (Debian's Chromium through Playwright) against the app served by uvicorn on the
local stack: signing in through the local link, the grid, a mailbox, Test & Enable, alerts, a reader, hostile
markup, the keyboard, and the two widths. Each page's screenshot goes to test-output/console/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from devstack.seed import DEMO_FORWARD, DEMO_QUEUE, DEMO_USERS
from tests.integration.console.conftest import (
    HOSTILE_INBOX,
    HOSTILE_NAME,
    HOSTILE_SUBJECT,
    PHONE,
    READER,
    WRONG_PASSWORD_ADDRESS,
    ConsoleWorld,
    screenshot,
)

pytestmark = pytest.mark.integration


def open_link(page: Page, world: ConsoleWorld, roles: frozenset[str] | None = None) -> None:
    page.goto(world.link(roles) if roles else world.link())
    expect(page).to_have_url(re.compile(r"/console/mailboxes$"))


def row(page: Page, address: str) -> Locator:
    return page.locator("table.grid tbody tr", has=page.get_by_text(address, exact=True))


def test_the_local_link_signs_in_and_shows_the_demo_mailboxes(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    expect(page.get_by_role("heading", name="Mailboxes")).to_be_visible()
    for address in [*DEMO_USERS, DEMO_QUEUE[0], DEMO_FORWARD]:
        expect(row(page, address)).to_have_count(1)
    alice = row(page, "alice@example.test")
    expect(alice.locator('td[data-label="Incoming"]')).to_have_text("Healthy")
    expect(alice.locator('td[data-label="Incoming"] .state')).to_have_class(re.compile("tone-good"))
    expect(alice.locator('td[data-label="Approval"]')).to_have_text("Approved")
    screenshot(page, "mailboxes")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    screenshot(page, "mailboxes")


def test_a_wrong_password_shows_as_failing_in_the_servers_words(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    wrong = row(page, WRONG_PASSWORD_ADDRESS)
    expect(wrong.locator('td[data-label="Incoming"]')).to_have_text("Failing")
    expect(wrong.locator('td[data-label="Incoming"] .state')).to_have_class(re.compile("tone-bad"))
    wrong.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Walter Wrong")
    expect(page.locator(".alert-text").first).to_contain_text(re.compile("authenticat", re.IGNORECASE))
    screenshot(page, "mailbox-failing")


def test_test_and_enable_from_the_page_shows_the_result(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    page.goto(f"{console_server.base_url}/console/mailboxes/{console_server.mailboxes[WRONG_PASSWORD_ADDRESS]}")
    page.get_by_role("button", name="Test & Enable").click()
    result = page.locator("#result")
    expect(result).to_contain_text("Test & Enable failed: incoming:")
    expect(result).to_contain_text(re.compile("authenticat", re.IGNORECASE))
    screenshot(page, "mailbox-test-failed")

    page.goto(f"{console_server.base_url}/console/mailboxes/{console_server.mailboxes['alice@example.test']}")
    page.get_by_role("button", name="Test & Enable").click()
    expect(page.locator("#result")).to_contain_text("Test & Enable succeeded")
    screenshot(page, "mailbox-test-succeeded")


def test_a_bulk_action_reports_each_mailbox(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    for address in ("alice@example.test", DEMO_QUEUE[0]):
        row(page, address).get_by_role("checkbox").check()
    page.get_by_role("button", name="Sync now").click()
    results = page.locator(".results li")
    expect(results).to_have_count(2)
    expect(results.filter(has_text="Alice Adams")).to_contain_text("incoming due now")
    expect(results.filter(has_text="Support")).to_contain_text("incoming due now")
    screenshot(page, "mailboxes-bulk-results")


def test_an_alert_is_dismissed(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    page.goto(f"{console_server.base_url}/console/mailboxes/{console_server.mailboxes[WRONG_PASSWORD_ADDRESS]}")
    alerts = page.locator(".card.alert")
    before = alerts.count()
    assert before >= 1
    alerts.first.get_by_role("button", name=re.compile("^Dismiss")).click()
    expect(page.locator("#result")).to_have_text("alert dismissed")
    expect(alerts).to_have_count(before - 1)
    screenshot(page, "mailbox-alert-dismissed")


def test_hostile_markup_renders_as_text(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    expect(row(page, HOSTILE_INBOX).get_by_role("link")).to_have_text(HOSTILE_NAME)
    page.goto(f"{console_server.base_url}/console/mailboxes/{console_server.mailboxes[HOSTILE_INBOX]}")
    subjects = page.locator("#not-tracked .subject")
    expect(subjects.filter(has_text="window.hacked")).to_have_text(HOSTILE_SUBJECT)
    expect(page.get_by_role("heading", level=1)).to_contain_text(HOSTILE_NAME)
    assert page.evaluate("window.hacked") is None  # no script, handler or markup of theirs ran
    assert page.locator("#not-tracked script, #not-tracked b, h1 img").count() == 0
    expect(page.locator("#not-tracked")).to_contain_text("stranger@elsewhere.test")  # the address is kept, not the name
    screenshot(page, "mailbox-hostile")


def test_a_reader_sees_no_actions_and_a_forged_post_is_refused(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server, READER)
    expect(page.locator(".who")).to_contain_text("(read only)")
    expect(page.locator('input[name="mailbox"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(page, "mailboxes-reader")
    mailbox_id = console_server.mailboxes[WRONG_PASSWORD_ADDRESS]
    page.goto(f"{console_server.base_url}/console/mailboxes/{mailbox_id}")
    for name in ("Test & Enable", "Dismiss", "Save settings", "Approve email address"):
        expect(page.get_by_role("button", name=name)).to_have_count(0)
    screenshot(page, "mailbox-reader")
    csrf = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    forged = page.request.post(
        f"{console_server.base_url}/console/mailboxes/{mailbox_id}/test-and-enable", form={"csrf_token": csrf or ""}
    )
    assert forged.status == 403 and "Sync.Admin" in forged.text()


def test_keyboard_labels_and_focus_order(page: Page, console_server: ConsoleWorld) -> None:
    open_link(page, console_server)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden]), select, button')]
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
             .map(e => e.outerHTML)"""
    )
    assert unlabelled == []
    assert page.locator("[tabindex]:not([tabindex='-1']):not([tabindex='0'])").count() == 0  # DOM order is tab order
    page.keyboard.press("Enter")  # the skip link moves focus to the content
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_attribute("name", "state")  # the first filter
    page.goto(f"{console_server.base_url}/console/mailboxes/{console_server.mailboxes['alice@example.test']}")
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "mailbox")
