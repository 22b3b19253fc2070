"""R-IN-4 through the admin API on real Azurite and Dovecot: how far back a start date may go
(SYNC_PROCESS_SINCE_MAX_DAYS), and moving a mailbox's date back re-reads its Inbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.auth.secrets import SecretBox
from sync.incoming.worker import CycleReport, MailboxWorker
from sync.model.fields import utcnow
from sync.scheduling.scheduler import Scheduler
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import MailWorld, created
from tests.integration.incoming.conftest import message

pytestmark = pytest.mark.integration


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _refused(response: Any, field: str) -> bool:
    errors = response.json().get("errors") or [{}]
    return bool(response.status_code == 422 and errors[0].get("field") == field and "90 days" in response.text)


def test_r_in_4_a_start_date_further_back_than_the_maximum_days_is_refused(
    admin: TestClient, mail_world: MailWorld, api_settings: Settings
) -> None:
    assert api_settings.process_since_max_days == 90  # ProcessEmailSinceMaximumDaysAllowed's default here
    mailbox_id = mail_world.new_user(admin)
    too_old, allowed = utcnow() - timedelta(days=91), utcnow() - timedelta(days=89)

    patch = admin.patch(f"/api/mailboxes/{mailbox_id}", json={"process_email_received_after": _iso(too_old)})
    assert _refused(patch, "process_email_received_after"), patch.text
    ok = admin.patch(f"/api/mailboxes/{mailbox_id}", json={"process_email_received_after": _iso(allowed)})
    assert ok.status_code == 200, ok.text

    body = {"name": "Old start", "server_type": 4, "incoming_server_location": "imap.example.test"}
    post = admin.post("/api/profiles", json=body | {"process_emails_received_after": _iso(too_old)})
    assert _refused(post, "process_emails_received_after"), post.text
    profile = created(admin.post("/api/profiles", json=body | {"process_emails_received_after": _iso(allowed)}))
    moved = admin.patch(f"/api/profiles/{profile['id']}", json={"process_emails_received_after": _iso(too_old)})
    assert _refused(moved, "process_emails_received_after"), moved.text
    renamed = admin.patch(f"/api/profiles/{profile['id']}", json={"name": "Renamed"})  # its allowed date stays
    assert renamed.status_code == 200, renamed.text


def test_r_in_4_moving_a_mailbox_start_date_back_re_evaluates_its_inbox(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings
) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    address = isolated_store.get_mailbox(mailbox_id).email_address or ""
    raw, _ = message(address, subject="Received before the start date")
    mail_world.dovecot.deliver(address, raw)
    worker = MailboxWorker(isolated_store, api_settings, SecretBox(api_settings.aes_key()), incoming_connectors())

    def cycle() -> CycleReport:
        mailbox = isolated_store.get_mailbox(mailbox_id)
        item = Scheduler(isolated_store, api_settings, lambda item: None).claim(mailbox, mail_world.profile)
        return worker.run(item)

    later = utcnow() + timedelta(hours=1)  # forward: what arrived until now is before the start
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"process_email_received_after": _iso(later)}).is_success
    first = cycle()
    assert (first.listed, first.tracked, first.reasons["BeforeStartDate"]) == (2, 0, 2)  # with the test email

    earlier = utcnow() - timedelta(days=1)
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"process_email_received_after": _iso(earlier)}).is_success
    again = cycle()

    assert again.listed == 2, again  # the Inbox read again from the new start ...
    assert again.reasons["BeforeStartDate"] == 0  # ... and each message decided on its merits now
    assert again.reasons["NoCorrelationMatch"] + again.reasons["LoopDetected"] == 2
