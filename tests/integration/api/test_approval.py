"""Approval (R-APP-*, R-SEC-2): its own privilege, and it never starts an untested mailbox (R-APP-5, R-OUT-3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sync.model.fields import utcnow
from sync.model.options import EmailAddressApproval, EmailStatus
from sync.outgoing.messages import OutgoingWork
from sync.outgoing.sender import OutgoingSender
from sync.outgoing.smtp import SmtpConnector
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from sync.store.names import Queue
from tests.integration.api.conftest import APPROVER, PLAIN_ADMIN, MailWorld, created

pytestmark = pytest.mark.integration


def _pending_email(admin: TestClient, isolated_store: Store, mailbox_id: str) -> str:
    """An email from the mailbox's user to an outside address, queued for sending (Pending Send)."""
    owner = isolated_store.get_mailbox(mailbox_id).owner
    assert owner is not None
    carol = created(admin.post("/api/contacts", json={"last_name": "Carol", "email_address1": "carol@fabrikam.test"}))
    email = created(
        admin.post(
            "/api/emails",
            json={
                "from": {"type": "systemuser", "id": owner.id},
                "to": [{"type": "contact", "id": carol["id"]}],
                "subject": "Quote",
                "text_body": "Here it is.",
            },
        )
    )
    sent = admin.post(f"/api/emails/{email['id']}/send", json={"issue_send": True})
    assert sent.status_code == 200, sent.text
    return str(email["id"])


def _queued_work(services: Services) -> list[OutgoingWork]:
    queue = services.store.account.queue(Queue.OUTGOING_MAIL)
    work = []
    while messages := list(queue.receive_messages(messages_per_page=16, visibility_timeout=60)):
        for message in messages:
            work.append(OutgoingWork.model_validate_json(message.content))
            queue.delete_message(message)
    return work


def test_r_sec_2_approving_needs_the_approver_role_not_general_administration(
    admin: TestClient, app: object, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    admin.post(f"/api/mailboxes/{mailbox_id}/reject")
    with TestClient(admin.app, headers=PLAIN_ADMIN) as plain_admin, TestClient(admin.app, headers=APPROVER) as approver:
        refused = plain_admin.post(f"/api/mailboxes/{mailbox_id}/approve")
        assert refused.status_code == 403 and "Sync.Approver" in refused.json()["detail"]
        assert plain_admin.post(f"/api/mailboxes/{mailbox_id}/reject").status_code == 403
        assert isolated_store.get_mailbox(mailbox_id).approval is EmailAddressApproval.REJECTED

        assert approver.post(f"/api/mailboxes/{mailbox_id}/approve").status_code == 200
        assert isolated_store.get_mailbox(mailbox_id).approval is EmailAddressApproval.APPROVED
        assert approver.patch(f"/api/mailboxes/{mailbox_id}", json={"name": "x"}).status_code == 403  # nothing else
        assert approver.get(f"/api/mailboxes/{mailbox_id}").status_code == 200


def test_r_app_2_an_api_key_cannot_declare_a_microsoft_365_administrators_approval(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    refused = admin.post(f"/api/mailboxes/{mailbox_id}/approve", json={"approved_by_o365_admin": True})
    assert refused.status_code == 403 and "wids" in refused.json()["detail"]
    assert not isolated_store.get_mailbox(mailbox_id).is_email_address_approved_by_o365_admin


def test_r_app_5_approving_an_untested_mailbox_sends_nothing(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings
) -> None:
    mailbox_id = mail_world.new_user(admin)  # approved, never tested
    mailbox = isolated_store.get_mailbox(mailbox_id)
    assert mailbox.approval is EmailAddressApproval.APPROVED
    assert not mailbox.enabled_for_incoming and not mailbox.enabled_for_outgoing  # held until Test & Enable
    assert mailbox.due_row_key is None  # not polled either

    email_id = _pending_email(admin, isolated_store, mailbox_id)
    services = Services(api_settings, isolated_store)
    now, monotonic = [utcnow()], [0.0]
    sender = OutgoingSender(
        isolated_store, api_settings, services.secret_box, SmtpConnector(), services.outbox_queue,
        services.work_signer, clock=lambda: now[0], monotonic=lambda: monotonic[0],
    )  # fmt: skip
    try:
        (work,) = _queued_work(services)
        assert sender.handle(work).outcome == "ineligible"  # R-OUT-3
        assert isolated_store.get_email(email_id).status is EmailStatus.PENDING_SEND
        assert mail_world.smtp.count_by_message_id(isolated_store.get_email(email_id).message_id or "") == 0

        tested = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
        assert tested.status_code == 200 and tested.json()["succeeded"], tested.text
        now[0] += timedelta(hours=1)  # past the ineligible email's back-off
        monotonic[0] += 3600.0  # and past the sender's one-minute read cache
        again = sender.handle(work)
        assert again.outcome == "sent", again.detail  # the same message, delivered again
    finally:
        sender.close()
    assert mail_world.smtp.count_by_message_id(isolated_store.get_email(email_id).message_id or "") == 1


def test_r_out_3_a_mailbox_that_needs_no_approval_sends_only_after_test_and_enable(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings
) -> None:
    admin.patch("/api/organization", json={"require_approval_for_user_email": False})
    try:
        mailbox_id = mail_world.new_user(admin, approve=False)  # never approved, never tested
        email_id = _pending_email(admin, isolated_store, mailbox_id)
        services = Services(api_settings, isolated_store)
        (work,) = _queued_work(services)
        try:
            refused = services.outgoing_sender.handle(work)
        finally:
            services.outgoing_sender.close()
        assert refused.outcome == "ineligible" and "Test & Enable" in refused.detail
        message_id = isolated_store.get_email(email_id).message_id or ""
        assert mail_world.smtp.count_by_message_id(message_id) == 0
    finally:
        admin.patch("/api/organization", json={"require_approval_for_user_email": True})


def test_r_app_5_approving_keeps_a_tested_mailbox_running(admin: TestClient, mail_world: MailWorld) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    approved = admin.post(f"/api/mailboxes/{mailbox_id}/approve")
    assert approved.status_code == 200
    assert approved.json()["enabled_for_incoming"] and approved.json()["enabled_for_outgoing"]


def test_r_app_3_switching_off_approval_needs_the_approver_privilege(admin: TestClient) -> None:
    off = {"require_approval_for_user_email": False}
    with TestClient(admin.app, headers=PLAIN_ADMIN) as plain_admin:
        refused = plain_admin.patch("/api/organization", json=off)
        assert refused.status_code == 403 and "Sync.Approver" in refused.json()["detail"]
        assert plain_admin.patch("/api/organization", json={"require_approval_for_user_email": True}).status_code == 200
    try:
        assert admin.patch("/api/organization", json=off).status_code == 200  # an administrator who approves
    finally:
        admin.patch("/api/organization", json={"require_approval_for_user_email": True})
