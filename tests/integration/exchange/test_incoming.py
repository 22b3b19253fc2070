"""Incoming email from Exchange, end to end (Functions handlers, Azurite, the EWS or Graph server, Entra mock)."""

from __future__ import annotations

import pytest

from sync.health.alerts import CODE_INCOMING_AUTH
from sync.incoming.marks import TRACKED_CATEGORY
from sync.incoming.reasons import Reason
from sync.mail.port import TRACKED_PREFIX
from sync.model import MailboxTrackingFolder
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EntityType, FilteringMethod, FolderOnboardingStatus
from tests.integration.exchange.conftest import ALICE, Deployment, message
from tests.integration.exchange.doubles import Op

pytestmark = pytest.mark.integration


def test_new_mail_in_the_inbox_is_tracked_and_categorized(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    raw, message_id = message(ALICE)
    item_id = deployment.server.deliver(ALICE, raw)

    deployment.run()

    assert len(deployment.emails(message_id)) == 1
    email = deployment.store.get_email(deployment.emails(message_id)[0])
    assert email.receiving_mailbox_id == mailbox.id and email.sender == "carol@fabrikam.test"
    assert TRACKED_CATEGORY in deployment.server.categories(ALICE, "inbox", item_id)  # R-REC-7
    assert deployment.app.services.tokens.counter.counts["entra_token"] == 1  # one app-only token for the cycle


def test_a_second_cycle_fetches_only_what_is_new(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    first, first_id = message(ALICE, subject="first")
    deployment.server.deliver(ALICE, first)
    deployment.run()
    second, second_id = message(ALICE, subject="second")
    deployment.server.deliver(ALICE, second)
    deployment.server.reset_calls()

    deployment.cycle(mailbox)

    assert len(deployment.emails(first_id)) == 1 and len(deployment.emails(second_id)) == 1
    assert deployment.server.count(Op.FETCH) == 1  # only the new message is downloaded


def test_only_the_inbox_itself_is_read_without_a_rule(deployment: Deployment) -> None:
    """R-IN-1: an Inbox subfolder is read only when a tracking rule names it."""
    mailbox = deployment.user_mailbox(ALICE)
    folder = deployment.server.create_folder(ALICE, "inbox", "Newsletters")
    in_folder, folder_message_id = message(ALICE, subject="Filed by an Outlook rule")
    in_inbox, inbox_message_id = message(ALICE, subject="In the Inbox")
    deployment.server.deliver(ALICE, in_folder, folder=folder)
    deployment.server.deliver(ALICE, in_inbox)

    deployment.cycle(mailbox)

    assert len(deployment.emails(inbox_message_id)) == 1
    assert deployment.emails(folder_message_id) == []


def test_mail_in_a_tracked_subfolder_is_tracked_regarding_the_rule_record(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
    folder = deployment.server.create_folder(ALICE, "inbox", "Fabrikam deal")
    regarding = EntityRef(type=EntityType.ACCOUNT, id=deployment.customer.id)
    rule = deployment.store.tracking_folders.insert(
        MailboxTrackingFolder(mailbox_id=mailbox.id, exchange_folder_id=folder, regarding=regarding)
    )
    in_folder, folder_message_id = message(ALICE, sender="stranger@elsewhere.test", subject="proposal")
    in_inbox, inbox_message_id = message(ALICE, sender="stranger@elsewhere.test", subject="spam")
    deployment.server.deliver(ALICE, in_folder, folder=folder)
    deployment.server.deliver(ALICE, in_inbox)

    deployment.run()

    assert deployment.emails(inbox_message_id) == []  # the filtering method says no for the Inbox
    [email_id] = deployment.emails(folder_message_id)  # R-FLT-5: the folder tracks it anyway
    assert deployment.store.get_email(email_id).regarding == regarding
    stored = deployment.store.get_mailbox(mailbox.id)
    assert f"{TRACKED_PREFIX}{folder}" in stored.watermarks
    assert deployment.store.tracking_folders.get(mailbox.id, rule.id).exchange_folder_name == "Fabrikam deal"


def test_a_renamed_folder_keeps_its_rule_and_one_moved_out_of_the_inbox_stops_it(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    folder = deployment.server.create_folder(ALICE, "inbox", "Projects")
    rule = deployment.store.tracking_folders.insert(
        MailboxTrackingFolder(mailbox_id=mailbox.id, exchange_folder_id=folder)
    )
    deployment.run()

    deployment.server.rename_folder(ALICE, folder, "Projects 2026")
    deployment.cycle(mailbox)
    renamed = deployment.store.tracking_folders.get(mailbox.id, rule.id)
    assert (renamed.exchange_folder_name, renamed.is_enabled) == ("Projects 2026", True)

    deployment.server.move_folder(ALICE, folder, "msgfolderroot")
    deployment.cycle(mailbox)
    moved = deployment.store.tracking_folders.get(mailbox.id, rule.id)
    assert not moved.is_enabled  # R-FLT-9
    assert moved.folder_onboarding_status is FolderOnboardingStatus.NOT_UNDER_INBOX


def test_an_item_given_the_tracking_category_is_tracked_whatever_the_filter(deployment: Deployment) -> None:
    deployment.user_mailbox(ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
    raw, message_id = message(ALICE, sender="stranger@elsewhere.test")
    deployment.server.deliver(ALICE, raw, categories=[TRACKED_CATEGORY])

    deployment.run()

    [email_id] = deployment.emails(message_id)
    failures = {f.reason for f in deployment.store.item_failures.query("PartitionKey ne ''", {})}
    assert Reason.NO_CORRELATION_MATCH.label not in failures
    assert deployment.store.get_email(email_id).accepting_entity is not None


def test_throttling_within_the_budget_is_waited_out(deployment: Deployment) -> None:
    deployment.user_mailbox(ALICE)
    raw, message_id = message(ALICE)
    deployment.server.deliver(ALICE, raw)
    deployment.server.throttle_next_listing(0.3)

    deployment.run()

    assert len(deployment.emails(message_id)) == 1
    assert deployment.server.count(Op.LIST) == 2  # refused once, asked again after the back-off


def test_throttling_past_the_budget_comes_back_later_without_a_failure(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    raw, message_id = message(ALICE)
    deployment.server.deliver(ALICE, raw)
    deployment.server.throttle_next_listing(3600)
    before = utcnow()

    deployment.run()

    assert deployment.emails(message_id) == []
    stored = deployment.store.get_mailbox(mailbox.id)
    assert stored.transient_failure_count == 0 and stored.enabled_for_incoming
    assert stored.postpone_mailbox_processing_until is not None
    assert (stored.postpone_mailbox_processing_until - before).total_seconds() >= 3500  # when the server said
    assert deployment.server.count(Op.LIST) == 1  # no sleeping past the function's budget


def test_a_wrong_client_secret_disables_the_mailbox_with_the_credentials_alert(deployment: Deployment) -> None:
    profile = deployment.exchange_profile(client_secret="not-the-secret")
    mailbox = deployment.user_mailbox(ALICE, profile=profile)
    deployment.server.deliver(ALICE, message(ALICE)[0])

    deployment.run()

    stored = deployment.store.get_mailbox(mailbox.id)
    assert not stored.enabled_for_incoming  # R-ERR-2: disabled at once
    alerts = [a for a in deployment.store.alerts.query("mailbox_id eq @m", {"m": mailbox.id})]
    assert [a.code for a in alerts] == [CODE_INCOMING_AUTH]
    assert "credentials" in alerts[0].text and "InvalidClientCredentials" in alerts[0].text
    assert deployment.server.total_calls() == 0  # nothing reached Exchange


def test_a_tracked_item_listed_again_after_its_category_is_counted_neither_tracked_nor_not_tracked(
    deployment: Deployment,
) -> None:
    """Giving a tracked item the tracking category changes it, so the next sync lists it again (EWS
    SyncFolderItems, Graph delta). The mailbox tracked it already: counted as "not tracked, already handled",
    it doubled the not-tracked figures of the cycle history and the dashboard for every Exchange email."""
    mailbox = deployment.user_mailbox(ALICE)
    first, first_id = message(ALICE, subject="first")
    item_id = deployment.server.deliver(ALICE, first)
    deployment.run()
    assert TRACKED_CATEGORY in deployment.server.categories(ALICE, "inbox", item_id)
    second, second_id = message(ALICE, subject="second")
    deployment.server.deliver(ALICE, second)
    deployment.server.reset_calls()

    deployment.cycle(mailbox)

    latest = deployment.store.cycle_history.recent(mailbox.id, "incoming")[0]
    assert (len(deployment.emails(first_id)), len(deployment.emails(second_id))) == (1, 1)
    assert latest.listed == 2  # the categorized item came back with the new one
    assert deployment.server.count(Op.FETCH) == 1  # and was not downloaded again
    assert (latest.tracked, latest.not_tracked, latest.reasons) == (1, 0, {})
