"""Alerts that name the right mailbox, code and text (R-ERR-5, R-ERR-6, R-TE-4), through the API on Dovecot."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from sync.health.alerts import Alerts, mailbox_ref
from sync.health.enable_alerts import CODE_TEST_INCOMING_FAILED, CODE_TEST_SUCCEEDED
from sync.outgoing.alerts import CODE_OUTGOING_AUTH, CODE_OUTGOING_TRANSIENT, mailbox_failure
from sync.store import Store
from sync.store.schema import alert_row_key
from tests.integration.api.conftest import MailWorld, imap_smtp_profile
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


def alerts_of(admin: TestClient, **filters: str) -> list[dict[str, Any]]:
    response = admin.get("/api/alerts", params=filters)
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def outgoing_alert(store: Store, mailbox_id: str, kind: str) -> None:
    """An outgoing alert as the sender writes it, open on the mailbox before its Test & Enable."""
    mailbox = store.get_mailbox(mailbox_id)
    text = mailbox_failure(mailbox, "Dovecot + aiosmtpd", "ConnectionFailed", "refused", kind=kind)
    Alerts(store).raise_alert(store.get_organization(), text, mailbox_ref(mailbox), mailbox_id=mailbox_id)


def test_r_err_6_a_successful_test_and_enable_keeps_a_current_outgoing_alert(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin)
    outgoing_alert(isolated_store, mailbox_id, "transient")
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    mine = {a["code"]: a["text"] for a in alerts_of(admin, mailbox_id=mailbox_id)}
    assert set(mine) == {CODE_OUTGOING_TRANSIENT, CODE_TEST_SUCCEEDED}
    assert "will try to send email again later" in mine[CODE_OUTGOING_TRANSIENT]


def test_r_err_6_a_failed_test_and_enable_does_not_overwrite_an_outgoing_alert(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    mailbox_id = mail_world.new_user(admin, password="wrong")
    outgoing_alert(isolated_store, mailbox_id, "authentication")
    before = isolated_store.alerts.get(mailbox_id, alert_row_key(CODE_OUTGOING_AUTH))
    assert not admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    after = isolated_store.alerts.get(mailbox_id, alert_row_key(CODE_OUTGOING_AUTH))
    assert (after.code_name, after.text, after.count) == (before.code_name, before.text, 1)


def test_r_err_5_two_mailboxes_failing_a_test_give_two_right_alerts_and_one_profile_alert_that_closes(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    profile = isolated_store.profiles.insert(imap_smtp_profile(mail_world.dovecot, mail_world.smtp, name="Shared"))
    bob = mail_world.new_user(admin, password="wrong", profile_id=profile.id)
    jane = mail_world.new_user(admin, password="wrong", profile_id=profile.id)
    names = {m: isolated_store.get_mailbox(m).name for m in (bob, jane)}
    for mailbox_id in (bob, jane):
        assert not admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]

    for mailbox_id, other in ((bob, jane), (jane, bob)):  # every alert filtered by a mailbox is about it
        listed = alerts_of(admin, mailbox_id=mailbox_id)
        assert listed and all(a["mailbox_id"] == mailbox_id for a in listed)
        assert all(names[mailbox_id] in a["text"] and names[other] not in a["text"] for a in listed)
    (on_profile,) = [
        a for a in alerts_of(admin, profile_id=profile.id)
        if a["regarding"]["id"] == profile.id and a["code"] == CODE_TEST_INCOMING_FAILED
    ]  # fmt: skip
    assert on_profile["mailbox_id"] is None and on_profile["code_name"] == "AuthenticationFailed"
    assert [m["mailbox_id"] for m in on_profile["mailboxes"]] == [bob, jane]
    assert names[bob] in on_profile["text"] and names[jane] in on_profile["text"]
    assert "2 mailboxes" in on_profile["text"]

    for mailbox_id in (bob, jane):
        admin.patch(f"/api/mailboxes/{mailbox_id}", json={"password": MAIL_PASSWORD})
    assert admin.post(f"/api/mailboxes/{bob}/test-and-enable").json()["succeeded"]
    still = isolated_store.alerts.get(profile.id, alert_row_key(CODE_TEST_INCOMING_FAILED))
    assert [m.mailbox_id for m in still.mailboxes] == [jane] and still.resolved_on is None
    assert names[bob] not in still.text and "1 mailbox of" in still.text
    assert admin.post(f"/api/mailboxes/{jane}/test-and-enable").json()["succeeded"]
    closed = isolated_store.alerts.get(profile.id, alert_row_key(CODE_TEST_INCOMING_FAILED))
    assert closed.resolved_on is not None and closed.dismissed and closed.mailboxes == []
    assert not [a for a in alerts_of(admin, profile_id=profile.id) if a["regarding"]["id"] == profile.id]


def test_r_te_4_a_failure_alerts_the_mailbox_and_its_profile_and_a_success_closes_both(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    profile = isolated_store.profiles.insert(imap_smtp_profile(mail_world.dovecot, mail_world.smtp, name="Te4"))
    mailbox_id = mail_world.new_user(admin, password="wrong", profile_id=profile.id)
    assert not admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    assert CODE_TEST_INCOMING_FAILED in {a["code"] for a in alerts_of(admin, mailbox_id=mailbox_id)}
    on_profile = [a for a in alerts_of(admin, profile_id=profile.id) if a["regarding"]["id"] == profile.id]
    assert CODE_TEST_INCOMING_FAILED in {a["code"] for a in on_profile}
    admin.patch(f"/api/mailboxes/{mailbox_id}", json={"password": MAIL_PASSWORD})
    assert admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    assert {a["code"] for a in alerts_of(admin, mailbox_id=mailbox_id)} == {CODE_TEST_SUCCEEDED}
    assert [a for a in alerts_of(admin, profile_id=profile.id) if a["regarding"]["id"] == profile.id] == []
