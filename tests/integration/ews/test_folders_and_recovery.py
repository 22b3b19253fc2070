"""Sent Items, undeliverable items, a crash between pages, Test & Enable and service accounts through EWS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from sync.api.context import ApiContext
from sync.health.alerts import CODE_INCOMING_AUTH
from sync.incoming import processor as processor_module
from sync.incoming.marks import UNDELIVERABLE_CATEGORY, UNDELIVERABLE_FOLDER
from sync.incoming.worker import CycleReport, MailboxWorker
from sync.mail.ews import folders
from sync.mailboxes.test_enable import TEST_SUBJECT
from sync.model.fields import utcnow
from sync.model.options import CredentialRetrieval, EmailDirection, EmailStatus, ServerType, TestStatus
from tests.integration.ews.conftest import ALICE, SERVICE_ACCOUNT, SERVICE_PASSWORD, Deployment, message

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
    monkeypatch.setattr(folders, "PAGE_SIZE", 10)  # pages of ten: the state is checkpointed after each
    mailbox = deployment.user_mailbox(ALICE)
    ids = []
    for n in range(35):
        raw, message_id = message(ALICE, subject=f"message {n}")
        deployment.ews.deliver(ALICE, raw)
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
    deployment.ews.deliver(ALICE, raw, folder="sentitems")

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
    deployment.ews.deliver(ALICE, no_sender)

    deployment.run()

    assert deployment.emails("<nosender@x.test>") == []
    [folder] = [f for f in deployment.ews.mailbox(ALICE).folders.values() if f.name == UNDELIVERABLE_FOLDER]
    [item] = deployment.ews.items(ALICE, folder.folder_id)
    assert UNDELIVERABLE_CATEGORY in item.categories  # R-REC-9
    assert deployment.ews.items(ALICE, "inbox") == []


def test_test_and_enable_checks_the_mailbox_and_sends_the_test_email_through_ews(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)

    report = ApiContext(deployment.settings, lambda: deployment.store).test_and_enable().run(mailbox.id)

    assert (report.incoming, report.outgoing) == (TestStatus.SUCCESS, TestStatus.SUCCESS)
    [sent] = deployment.ews.sent_messages
    assert sent.recipients == (ALICE,) and TEST_SUBJECT.encode() in sent.mime  # R-TE-5: to the mailbox itself
    assert deployment.ews.calls["SyncFolderHierarchy"] == 1


def test_an_on_premises_service_account_impersonates_the_mailbox(deployment: Deployment) -> None:
    profile = deployment.exchange_profile(
        server_type=ServerType.EXCHANGE_SERVER,
        incoming_server_location=deployment.ews.url,
        incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        incoming_username=SERVICE_ACCOUNT,
        incoming_use_impersonation=True,
        password=SERVICE_PASSWORD,
    )
    deployment.user_mailbox(ALICE, profile=profile)
    raw, message_id = message(ALICE)
    deployment.ews.deliver(ALICE, raw)

    deployment.run()

    assert len(deployment.emails(message_id)) == 1
    assert {c.mailbox for c in deployment.ews.calls.log} == {ALICE}  # the service account acted as Alice


def test_a_wrong_service_account_password_disables_the_mailbox(deployment: Deployment) -> None:
    profile = deployment.exchange_profile(
        server_type=ServerType.EXCHANGE_SERVER,
        incoming_server_location=deployment.ews.url,
        incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        incoming_username=SERVICE_ACCOUNT,
        incoming_use_impersonation=True,
        password="wrong",
    )
    mailbox = deployment.user_mailbox(ALICE, profile=profile)

    deployment.run()

    assert not deployment.store.get_mailbox(mailbox.id).enabled_for_incoming
    codes = [a.code for a in deployment.store.alerts.query("mailbox_id eq @m", {"m": mailbox.id})]
    assert codes == [CODE_INCOMING_AUTH]
