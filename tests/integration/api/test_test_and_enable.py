"""Test & Enable against real Dovecot and aiosmtpd: success and each documented failure, statuses and alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.health.enable_alerts import (
    CODE_TEST_INCOMING_FAILED,
    CODE_TEST_PRECONDITION_FAILED,
    CODE_TEST_SUCCEEDED,
)
from sync.incoming.classify import GENERATED_HEADER
from sync.mailboxes.test_enable import TEST_SUBJECT
from sync.model.options import CredentialRetrieval, TestStatus
from sync.scheduling.test_enable_queue import TestEnableWork
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from sync.store.names import Queue
from tests.integration.api.conftest import MailWorld, created, imap_smtp_profile
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


def queued_tests(store: Store) -> list[TestEnableWork]:
    """The messages on the ``test-and-enable`` queue, taken off it."""
    queue = store.account.queue(Queue.TEST_AND_ENABLE)
    works = []
    while messages := list(queue.receive_messages(messages_per_page=16, visibility_timeout=60)):
        for message in messages:
            works.append(TestEnableWork.model_validate_json(message.content))
            queue.delete_message(message)
    return works


def alerts_of(admin: TestClient, **filters: str) -> list[dict[str, Any]]:
    response = admin.get("/api/alerts", params=filters)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_success_enables_the_mailbox_sends_the_test_email_and_schedules_it(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    address = isolated_store.get_mailbox(mailbox_id).email_address
    response = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["succeeded"] is True, result["problems"]
    statuses = (result["incoming_status"], result["outgoing_status"], result["mailbox_status"])
    assert [s["name"] for s in statuses] == ["success"] * 3
    assert result["act_status"]["value"] == TestStatus.NOT_RUN  # ACT is not configured on this mailbox

    mailbox = isolated_store.get_mailbox(mailbox_id)
    assert mailbox.enabled_for_incoming and mailbox.enabled_for_outgoing
    assert mailbox.test_mailbox_access_completed_on is not None
    assert mailbox.test_and_enable_last_attempted_by and mailbox.test_and_enable_last_attempted_by.startswith(
        "api-key:"
    )
    assert mailbox.due_row_key is not None  # on the schedule: the next tick polls it

    sent = [m for m in mail_world.smtp.messages if address in m.rcpt_tos]
    assert len(sent) == 1
    assert TEST_SUBJECT.encode() in sent[0].data
    assert f"{GENERATED_HEADER}: test-email".encode() in sent[0].data

    alerts = alerts_of(admin, mailbox_id=mailbox_id)
    assert [a["code"] for a in alerts] == [CODE_TEST_SUCCEEDED]
    assert alerts[0]["level"]["name"] == "information"


def test_the_start_date_is_recorded_and_must_follow_the_profiles(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    start = datetime.now(UTC) - timedelta(days=2)
    response = admin.post(
        f"/api/mailboxes/{mailbox_id}/test-and-enable", json={"process_email_received_after": start.isoformat()}
    )
    assert response.status_code == 200 and response.json()["succeeded"]
    assert isolated_store.get_mailbox(mailbox_id).process_email_received_after == start

    later = created(
        admin.post(
            "/api/profiles",
            json={"name": "Later", "server_type": 4, "process_emails_received_after": datetime.now(UTC).isoformat()},
        )
    )
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": later["id"]}).status_code == 200
    refused = admin.post(
        f"/api/mailboxes/{mailbox_id}/test-and-enable", json={"process_email_received_after": start.isoformat()}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "process_email_received_after"


def test_no_profile_fails_with_invalid_incoming_email_server_profile(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": None}).status_code == 200
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert result["succeeded"] is False
    assert [p["code"] for p in result["problems"]] == ["InvalidIncomingEmailServerProfile"]
    statuses = (result["incoming_status"], result["outgoing_status"], result["mailbox_status"])
    assert [s["value"] for s in statuses] == [TestStatus.FAILURE] * 3
    mailbox = isolated_store.get_mailbox(mailbox_id)
    assert not mailbox.enabled_for_incoming and not mailbox.enabled_for_outgoing
    alert = alerts_of(admin, mailbox_id=mailbox_id, level="3")
    assert [a["code"] for a in alert] == [CODE_TEST_PRECONDITION_FAILED]
    assert "InvalidIncomingEmailServerProfile" in alert[0]["text"]


def test_an_inactive_mailbox_fails_with_mailbox_disabled(admin: TestClient, mail_world: MailWorld) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"state": 1}).status_code == 200
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert [p["code"] for p in result["problems"]] == ["MailboxDisabled"]
    assert result["incoming_status"]["name"] == result["outgoing_status"]["name"] == "failure"
    texts = [a["text"] for a in alerts_of(admin, mailbox_id=mailbox_id)]
    assert any("MailboxDisabled" in t and "has been disabled" in t for t in texts)
    by_profile = alerts_of(admin, profile_id=mail_world.profile.id)
    assert any(a["regarding"]["id"] == mail_world.profile.id for a in by_profile)  # the profile's owner hears too


def test_a_wrong_password_fails_incoming_and_outgoing_with_authentication_codes(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin, password="wrong")
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    codes = {p["workload"]: p["code"] for p in result["problems"]}
    assert codes["incoming"] == "AuthenticationFailed"
    assert codes["outgoing"] == "OutgoingEmailAuthenticationError"
    assert result["incoming_status"]["name"] == result["outgoing_status"]["name"] == "failure"
    assert "wrong" not in str(result)  # the password never shows up in a message
    assert not isolated_store.get_mailbox(mailbox_id).enabled_for_incoming
    codes_on_alerts = {a["code"] for a in alerts_of(admin, mailbox_id=mailbox_id)}
    assert CODE_TEST_INCOMING_FAILED in codes_on_alerts


def test_an_unreachable_host_fails_and_a_later_success_dismisses_the_alert(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, closed_port: int
) -> None:
    dead = isolated_store.profiles.insert(
        imap_smtp_profile(
            mail_world.dovecot, mail_world.smtp, name="Dead", incoming_port=closed_port, outgoing_port=closed_port
        )
    )
    mailbox_id = mail_world.new_user(admin, profile_id=dead.id)
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    codes = {p["workload"]: p["code"] for p in result["problems"]}
    assert codes == {"incoming": "ConnectionFailed", "outgoing": "ConnectionFailed"}
    assert any(a["code"] == CODE_TEST_INCOMING_FAILED for a in alerts_of(admin, mailbox_id=mailbox_id))
    health = admin.get(f"/api/mailboxes/{mailbox_id}/health").json()  # the failure is the mailbox's last error
    assert health["state"] == "failing" and health["last_error"]["count"] == 1
    assert "incoming ConnectionFailed" in health["last_error"]["message"]
    assert "outgoing ConnectionFailed" in health["last_error"]["message"]
    assert admin.get(f"/api/profiles/{dead.id}/health").json()["failing_last_hour"] == 1

    # a mailbox moved to another profile is given its password again (it was for the old profile's servers)
    moved = {"email_server_profile_id": mail_world.profile.id, "password": MAIL_PASSWORD}
    admin.patch(f"/api/mailboxes/{mailbox_id}", json=moved)
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    assert admin.get(f"/api/mailboxes/{mailbox_id}/health").json()["state"] == "healthy"
    open_codes = {a["code"] for a in alerts_of(admin, mailbox_id=mailbox_id) if a["regarding"]["id"] == mailbox_id}
    assert open_codes == {CODE_TEST_SUCCEEDED}  # the mailbox's failure alerts are dismissed
    dismissed = alerts_of(admin, mailbox_id=mailbox_id, include_dismissed="true")
    assert CODE_TEST_INCOMING_FAILED in {a["code"] for a in dismissed}


def test_an_unapproved_address_fails_until_approved(admin: TestClient, mail_world: MailWorld) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{mailbox_id}/reject").json()["approval"]["name"] == "rejected"
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert [p["code"] for p in result["problems"]] == ["EmailAddressNotApproved"]
    approved = admin.post(f"/api/mailboxes/{mailbox_id}/approve").json()
    assert approved["approval"]["value"] == 1 and approved["email_address_approved_by"]
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]


def test_a_missing_mailbox_is_a_404(admin: TestClient) -> None:
    assert admin.post("/api/mailboxes/nope/test-and-enable").status_code == 404


def test_apply_default_email_settings_needs_a_default_profile_then_tests(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    admin.patch(f"/api/mailboxes/{mailbox_id}", json={"email_server_profile_id": None, "incoming_method": 0})
    assert admin.patch("/api/organization", json={"default_email_server_profile_id": None}).status_code == 200
    refused = admin.post(f"/api/mailboxes/{mailbox_id}/apply-default-email-settings")
    assert refused.status_code == 409 and "default_email_server_profile_id" in refused.json()["detail"]
    assert isolated_store.get_mailbox(mailbox_id).incoming_method == 0  # nothing applied
    org = admin.patch("/api/organization", json={"default_email_server_profile_id": mail_world.profile.id})
    assert org.status_code == 200
    result = admin.post(f"/api/mailboxes/{mailbox_id}/apply-default-email-settings").json()
    assert result["succeeded"] is True
    mailbox = isolated_store.get_mailbox(mailbox_id)
    assert mailbox.email_server_profile_id == mail_world.profile.id and mailbox.incoming_method == 2
    untested = admin.post(f"/api/mailboxes/{mailbox_id}/apply-default-email-settings", json={"test_and_enable": False})
    assert untested.status_code == 200 and untested.json()["mailbox_id"] == mailbox_id
    admin.patch("/api/organization", json={"default_email_server_profile_id": None})


def test_r_te_1_a_profiles_mailboxes_are_tested_in_the_background_with_progress(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings
) -> None:
    profile = isolated = created(
        admin.post(
            "/api/profiles",
            json={
                "name": "Batch",
                "server_type": 4,
                "incoming_server_location": "localhost",
                "incoming_port": mail_world.dovecot.imaps_port,
                "outgoing_server_location": "localhost",
                "outgoing_port": mail_world.smtp.submission_port,
                "timeout_mailbox_connection_after_ms": 5000,
            },
        )
    )
    ids = {mail_world.new_user(admin, profile_id=profile["id"]) for _ in range(2)}
    requested = admin.post(f"/api/profiles/{isolated['id']}/test-and-enable")
    assert requested.status_code == 202, requested.text  # nothing tested inside the request
    assert set(requested.json()["mailbox_ids"]) == ids
    progress = requested.json()["progress"]
    before = admin.get(progress).json()
    assert (before["total"], before["pending"], before["succeeded"]) == (2, 2, 0)

    services = Services(api_settings, isolated_store)
    works = queued_tests(isolated_store)
    outcomes = [services.run_queued_test(work) for work in works]  # what the queue trigger does
    assert sorted(outcomes) == ["tested", "tested"]
    after = admin.get(progress).json()
    assert (after["total"], after["pending"], after["succeeded"], after["failed"]) == (2, 0, 2, 0)
    assert all(isolated_store.get_mailbox(i).enabled_for_outgoing for i in ids)
    assert all(not isolated_store.get_mailbox(i).test_email_configuration_scheduled for i in ids)

    assert [services.run_queued_test(work) for work in works] == ["done", "done"]  # delivered twice: tested once


def test_every_blocker_is_reported_at_once_with_what_to_change(admin: TestClient, mail_world: MailWorld) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{mailbox_id}/reject").status_code == 200
    changed = admin.patch(f"/api/mailboxes/{mailbox_id}", json={"allow_credentials_for_email_processing": False})
    assert changed.status_code == 200, changed.text
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    found = {(p["workload"], p["code"]): p["fix"] for p in result["problems"]}
    assert set(found) == {
        ("mailbox", "EmailAddressNotApproved"),
        ("incoming", "CredentialsNotAllowed"),
        ("outgoing", "CredentialsNotAllowed"),
    }
    assert "/approve" in found[("mailbox", "EmailAddressNotApproved")]
    assert "allow_credentials_for_email_processing" in found[("incoming", "CredentialsNotAllowed")]
    assert result["incoming_status"]["name"] == result["outgoing_status"]["name"] == "failure"  # no server contacted


def test_a_workload_without_credentials_fails_alone_and_the_other_is_tested(
    admin: TestClient, mail_world: MailWorld
) -> None:
    profile = mail_world.store.profiles.insert(
        imap_smtp_profile(
            mail_world.dovecot,
            mail_world.smtp,
            name="Outgoing with the profile's account, which has no password",
            use_same_settings_for_outgoing=False,
            outgoing_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        )
    )
    mailbox_id = mail_world.new_user(admin, profile_id=profile.id)
    result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert [(p["workload"], p["code"]) for p in result["problems"]] == [("outgoing", "CredentialsMissing")]
    assert "password" in result["problems"][0]["fix"]
    assert (result["incoming_status"]["name"], result["outgoing_status"]["name"]) == ("success", "failure")
