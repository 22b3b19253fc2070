"""Scheduled Test & Enable (R-TE-1) and automatic re-tests of failed mailboxes (R-TE-11), through the timer's
tick and the queue trigger's handler, against Dovecot and aiosmtpd; the tick's clock is injected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sync.mailboxes.retest import RETEST_DELAYS
from sync.model.fields import utcnow
from sync.scheduling.test_enable_queue import TestEnableScheduler, TestEnableWork
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import MailWorld
from tests.stack_fixtures import MAIL_PASSWORD

pytestmark = pytest.mark.integration


def _tick_at(store: Store, when: object, mailbox_id: str) -> list[TestEnableWork]:
    """The work one tick at ``when`` queues for ``mailbox_id`` (the module's other mailboxes are not ours)."""
    queued: list[TestEnableWork] = []
    TestEnableScheduler(store, queued.append, clock=lambda: when).tick()  # type: ignore[arg-type,return-value]
    return [work for work in queued if work.mailbox_id == mailbox_id]


def test_r_te_1_setting_test_email_configuration_scheduled_runs_test_and_enable(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings
) -> None:
    mailbox_id = mail_world.new_user(admin)  # approved, never tested: held
    later = utcnow() + timedelta(hours=2)
    changes = {"test_email_configuration_scheduled": True, "postpone_test_email_configuration_until": later.isoformat()}
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json=changes).status_code == 200

    assert _tick_at(isolated_store, later - timedelta(minutes=1), mailbox_id) == []  # postponed
    (work,) = _tick_at(isolated_store, later, mailbox_id)
    assert _tick_at(isolated_store, later + timedelta(minutes=5), mailbox_id) == []  # claimed: not queued twice
    assert Services(api_settings, isolated_store).run_queued_test(work) == "tested"
    mailbox = isolated_store.get_mailbox(mailbox_id)
    assert mailbox.mailbox_status.name == "SUCCESS" and mailbox.enabled_for_outgoing
    assert not mailbox.test_email_configuration_scheduled


def test_r_te_11_a_failed_mailbox_is_retested_automatically_and_recovers(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, api_settings: Settings
) -> None:
    mailbox_id = mail_world.new_user(admin, password="wrong")
    assert not admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()["succeeded"]
    failed = isolated_store.get_mailbox(mailbox_id)
    assert failed.test_email_configuration_scheduled and failed.test_email_configuration_retry_count == 1
    retest_on = failed.postpone_test_email_configuration_until
    assert retest_on is not None and failed.test_and_enable_last_attempted_on is not None
    assert retest_on - failed.test_and_enable_last_attempted_on == RETEST_DELAYS[0]

    services = Services(api_settings, isolated_store)
    assert _tick_at(isolated_store, retest_on - timedelta(seconds=1), mailbox_id) == []
    (work,) = _tick_at(isolated_store, retest_on, mailbox_id)
    assert services.run_queued_test(work) == "tested"  # still the wrong password: the next re-test waits longer
    second = isolated_store.get_mailbox(mailbox_id)
    assert second.test_email_configuration_retry_count == 2 and not second.enabled_for_incoming
    assert second.postpone_test_email_configuration_until is not None

    # the password is corrected (no one runs Test & Enable): the next automatic re-test enables the mailbox
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json={"password": MAIL_PASSWORD}).status_code == 200
    (work,) = _tick_at(isolated_store, second.postpone_test_email_configuration_until, mailbox_id)
    assert services.run_queued_test(work) == "tested"
    recovered = isolated_store.get_mailbox(mailbox_id)
    assert recovered.enabled_for_incoming and recovered.enabled_for_outgoing
    assert (recovered.test_email_configuration_retry_count, recovered.test_email_configuration_scheduled) == (0, False)
