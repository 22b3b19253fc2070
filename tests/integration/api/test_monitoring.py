"""Health per mailbox and per profile, alerts, item-level failures and quarantine, on real Azurite."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sync.incoming.reasons import Reason
from sync.model import ItemFailure
from sync.model.fields import utcnow
from sync.model.options import TestStatus
from sync.store import Store
from sync.store.names import Container
from tests.integration.api.conftest import MailWorld, created

pytestmark = pytest.mark.integration


def test_a_tested_mailbox_is_healthy_and_due(admin: TestClient, mail_world: MailWorld) -> None:
    mailbox_id = mail_world.new_user(admin)
    assert admin.get(f"/api/mailboxes/{mailbox_id}/health").json()["state"] == "not_tested"
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    health = admin.get(f"/api/mailboxes/{mailbox_id}/health").json()
    assert health["state"] == "healthy" and health["next_due"] is not None
    assert health["not_eligible_because"] == [] and health["last_error"] is None


def test_a_failing_mailbox_shows_its_last_error_and_counts_for_its_profile(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    profile = created(admin.post("/api/profiles", json={"name": "Health", "server_type": 4}))
    ok_id = mail_world.new_user(admin, profile_id=profile["id"])
    bad_id = mail_world.new_user(admin, profile_id=profile["id"])
    for mailbox_id in (ok_id, bad_id):
        mailbox = isolated_store.get_mailbox(mailbox_id)
        mailbox.incoming_status = mailbox.mailbox_status = TestStatus.SUCCESS
        mailbox.enabled_for_incoming = True  # as a passed Test & Enable leaves it (approval alone does not)
        isolated_store.mailboxes.update(mailbox)
    bad = isolated_store.get_mailbox(bad_id)
    bad.last_sync_error, bad.last_sync_error_count, bad.last_sync_error_occurred_on = "socket timed out", 2, utcnow()
    isolated_store.mailboxes.update(bad)

    health = admin.get(f"/api/mailboxes/{bad_id}/health").json()
    assert health["state"] == "failing"
    assert health["last_error"]["message"] == "socket timed out" and health["last_error"]["count"] == 2
    profile_health = admin.get(f"/api/profiles/{profile['id']}/health").json()
    assert profile_health == {
        "profile_id": profile["id"],
        "mailboxes": 2,
        "failing_last_hour": 1,
        "failing_share": 0.5,
        "over_alert_threshold": False,
    }
    ok = isolated_store.get_mailbox(ok_id)
    ok.last_sync_error_count, ok.last_sync_error_occurred_on = 1, utcnow() - timedelta(minutes=5)
    isolated_store.mailboxes.update(ok)
    assert admin.get(f"/api/profiles/{profile['id']}/health").json()["over_alert_threshold"] is True
    assert admin.get("/api/profiles/nope/health").status_code == 404


def test_alerts_filter_and_dismiss(admin: TestClient, mail_world: MailWorld) -> None:
    mailbox_id = mail_world.new_user(admin, password="wrong")
    admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable")
    errors = admin.get("/api/alerts", params={"mailbox_id": mailbox_id, "level": 3}).json()["items"]
    mine = [a for a in errors if a["regarding"]["id"] == mailbox_id]
    assert mine and all(a["level"] == {"value": 3, "name": "error"} for a in mine)
    alert = mine[0]
    dismissed = admin.post(f"/api/alerts/{mailbox_id}/{alert['code']}/dismiss")
    assert dismissed.status_code == 200 and dismissed.json()["dismissed"] is True
    still_open = admin.get("/api/alerts", params={"mailbox_id": mailbox_id, "level": 3}).json()["items"]
    assert alert["id"] not in {a["id"] for a in still_open}
    assert admin.post(f"/api/alerts/{mailbox_id}/12345/dismiss").status_code == 404
    assert admin.get("/api/alerts", params={"level": 7}).status_code == 422


def test_item_failures_and_quarantine_are_listed_and_replayed(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    now = utcnow()
    isolated_store.item_failures.upsert(
        ItemFailure(
            mailbox_id=mailbox_id,
            message_key="k1",
            subject="Not for us",
            reason=Reason.NO_CORRELATION_MATCH.label,
            reason_code=int(Reason.NO_CORRELATION_MATCH),
            expires_on=now + timedelta(days=3),
        )
    )
    raw = (
        b"From: Carol <carol@fabrikam.test>\r\nTo: someone@example.test\r\nSubject: Stuck\r\n"
        b"Message-ID: <stuck-1@fabrikam.test>\r\n\r\nBody\r\n"
    )
    ref = isolated_store.blobs.put(Container.QUARANTINE, f"{mailbox_id}/stuck.eml", raw, "message/rfc822")
    isolated_store.item_failures.upsert(
        ItemFailure(
            mailbox_id=mailbox_id,
            message_key="k2",
            subject="Stuck",
            reason=Reason.QUARANTINED.label,
            reason_code=int(Reason.QUARANTINED),
            expires_on=now + timedelta(days=3),
            quarantine_blob=ref.name,
        )
    )

    failures = admin.get(f"/api/mailboxes/{mailbox_id}/item-failures").json()["items"]
    assert {f["reason"] for f in failures} == {"NoCorrelationMatch", "Quarantined"}
    only = admin.get(f"/api/mailboxes/{mailbox_id}/item-failures", params={"reason": "NoCorrelationMatch"})
    assert [f["subject"] for f in only.json()["items"]] == ["Not for us"]
    quarantined = admin.get(f"/api/mailboxes/{mailbox_id}/quarantine").json()["items"]
    assert [q["message_key"] for q in quarantined] == ["k2"]

    replayed = admin.post(f"/api/mailboxes/{mailbox_id}/quarantine/replay")
    assert replayed.status_code == 200, replayed.text
    assert [r["message_key"] for r in replayed.json()] == ["k2"] and replayed.json()[0]["released"] is True
    assert admin.get(f"/api/mailboxes/{mailbox_id}/quarantine").json()["items"] == []
