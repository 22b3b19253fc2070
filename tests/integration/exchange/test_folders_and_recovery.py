"""Sent Items, undeliverable items, a crash between pages and Test & Enable, through EWS and Graph."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from sync.api.context import ApiContext
from sync.incoming import processor as processor_module
from sync.incoming.marks import UNDELIVERABLE_CATEGORY, UNDELIVERABLE_FOLDER
from sync.incoming.worker import CycleReport, MailboxWorker
from sync.mailboxes.test_enable import TEST_SUBJECT
from sync.model.fields import utcnow
from sync.model.options import EmailDirection, EmailStatus, TestStatus
from tests.integration.exchange.conftest import ALICE, Deployment, message
from tests.integration.exchange.doubles import Op

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies: nothing after this line runs, no handler sees it."""


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> list[CycleReport]:
    """Every cycle's report, as the queue handler logs it."""
    seen: list[CycleReport] = []
    original = MailboxWorker.run

    def run(self: MailboxWorker, item: Any) -> CycleReport:
        report = original(self, item)
        seen.append(report)
        return report

    monkeypatch.setattr(MailboxWorker, "run", run)
    return seen


def test_a_crash_between_pages_resumes_from_the_last_page_without_duplicates(
    deployment: Deployment, reports: list[CycleReport], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = deployment.app.services
    services.settings = services.settings.model_copy(update={"retrieval_batch_size": 10})  # pages of ten, checkpointed
    mailbox = deployment.user_mailbox(ALICE)
    ids = []
    for n in range(35):
        raw, message_id = message(ALICE, subject=f"message {n}")
        deployment.server.deliver(ALICE, raw)
        ids.append(message_id)
    original: Callable[..., Any] = processor_module.IncomingProcessor.process
    calls = {"n": 0}

    def dies_on_the_25th(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 25:
            raise Crash
        return original(self, *args, **kwargs)

    monkeypatch.setattr(processor_module.IncomingProcessor, "process", dies_on_the_25th)
    with pytest.raises(Crash):
        deployment.run()
    stored = deployment.store.get_mailbox(mailbox.id)
    assert stored.watermarks["INBOX"].sync_state  # pages one and two are checkpointed

    monkeypatch.setattr(processor_module.IncomingProcessor, "process", original)

    def lease_expired(m: Any) -> None:  # the dead worker's lease runs out
        m.lease_expires_on = utcnow() - timedelta(minutes=1)

    deployment.store.mailboxes.modify(mailbox.id, "mailbox", lease_expired)
    deployment.cycle(mailbox)

    assert all(len(deployment.emails(message_id)) == 1 for message_id in ids)  # all there, none twice
    [resumed] = reports
    assert resumed.listed == 15  # messages 21..35: from the checkpoint after page two, not from the start
    assert resumed.reasons["AlreadyProcessed"] == 4  # 21..24 were stored before the crash


def test_sent_items_are_tracked_as_sent_email_when_the_organization_asks(deployment: Deployment) -> None:
    org = deployment.store.get_organization()
    org.auto_track_sent_folder_items = True
    deployment.store.organization.upsert(org)
    mailbox = deployment.user_mailbox(ALICE)
    raw, message_id = message("carol@fabrikam.test", sender=ALICE, subject="Sent from Outlook")
    deployment.server.deliver(ALICE, raw, folder="sentitems")

    deployment.run()

    [email_id] = deployment.emails(message_id)
    email = deployment.store.get_email(email_id)
    assert (email.direction, email.status) == (EmailDirection.OUTGOING, EmailStatus.SENT)  # R-IN-5
    assert mailbox.id in email.mailbox_ids


def test_unreadable_mail_is_marked_and_moved_to_undeliverable_when_the_profile_says_so(
    deployment: Deployment,
) -> None:
    profile = deployment.exchange_profile(move_undelivered_emails=True)
    deployment.user_mailbox(ALICE, profile=profile)
    no_sender = b"To: alice@example.test\r\nSubject: who sent this?\r\nMessage-ID: <nosender@x.test>\r\n\r\nbody\r\n"
    deployment.server.deliver(ALICE, no_sender)

    deployment.run()

    assert deployment.emails("<nosender@x.test>") == []
    folder = deployment.server.folder_named(ALICE, UNDELIVERABLE_FOLDER)
    assert folder is not None
    assert deployment.server.message_ids(ALICE, folder) == ["<nosender@x.test>"]
    [item] = deployment.server.item_ids(ALICE, folder)
    assert UNDELIVERABLE_CATEGORY in deployment.server.categories(ALICE, folder, item)
    assert deployment.server.message_ids(ALICE, "inbox") == []


def test_test_and_enable_checks_the_mailbox_and_sends_the_test_email(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)

    report = ApiContext(deployment.settings, lambda: deployment.store).test_and_enable().run(mailbox.id)

    assert (report.incoming, report.outgoing) == (TestStatus.SUCCESS, TestStatus.SUCCESS)
    [sent] = deployment.server.sent()
    assert sent.recipients == {ALICE} and TEST_SUBJECT.encode() in sent.mime  # R-TE-5: to the mailbox itself
    assert deployment.server.count(Op.HIERARCHY) == 1
