"""A quarantined message on a mailbox's page, replayed from the page once the limit that stopped it is raised."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from sync.incoming.reasons import Reason
from tests.integration.console.conftest import QUARANTINE_INBOX, ConsoleWorld, add_user, run_cycle, screenshot

pytestmark = pytest.mark.integration


def test_a_quarantined_message_is_replayed_from_the_page(page: Page, console_server: ConsoleWorld) -> None:
    world = console_server
    mailbox_id = add_user(world, "Quentin Quarantine", QUARANTINE_INBOX)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "carol@fabrikam.test", QUARANTINE_INBOX, "Two files"
    message.set_content("See attached.")
    for name in ("a.txt", "b.txt"):
        message.add_attachment(b"x", maintype="text", subtype="plain", filename=name)
    assert world.dovecot is not None
    world.dovecot.deliver(QUARANTINE_INBOX, message.as_bytes())
    strict = world.settings.model_copy(update={"mime_max_attachments": 1})  # the limit the message breaks
    run_cycle(world, mailbox_id, strict)
    assert Reason.QUARANTINED.label in [f.reason for f in world.store.item_failures.partition(mailbox_id)]

    page.goto(world.link())
    page.goto(f"{world.base_url}/console/mailboxes/{mailbox_id}")
    expect(page.locator("section", has=page.get_by_role("heading", name="Quarantine"))).to_contain_text(
        "more than 1 attachments"
    )
    screenshot(page, "mailbox-quarantine")
    page.get_by_role("button", name="Replay the quarantine").click()  # the app's own limits: 500 attachments
    expect(page.locator("#result")).to_contain_text(re.compile(r"^replayed: .+: \w+"))
    expect(page.get_by_text("Nothing quarantined.")).to_be_visible()
