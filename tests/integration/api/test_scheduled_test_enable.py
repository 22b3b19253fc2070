"""Scheduled Test & Enable (R-TE-1) and automatic re-tests of failed mailboxes (R-TE-11), through the timer's
tick and the queue trigger's handler, against Dovecot and aiosmtpd; the tick's clock is injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import UpdateMode
from fastapi.testclient import TestClient

from sync.mailboxes.retest import RETEST_DELAYS
from sync.model.fields import utcnow
from sync.scheduling.test_enable_queue import TestEnableScheduler, TestEnableWork, index_scheduled_mailboxes
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from sync.store.test_enable_index import BACKFILLED
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


def _schedule(admin: TestClient, mailbox_id: str, when: datetime) -> None:
    changes = {"test_email_configuration_scheduled": True, "postpone_test_email_configuration_until": when.isoformat()}
    assert admin.patch(f"/api/mailboxes/{mailbox_id}", json=changes).status_code == 200


def _index_keys(store: Store, mailbox_id: str) -> list[str]:
    return [key for found, key in store.test_enable_index.due(datetime(9999, 1, 1, tzinfo=UTC)) if found == mailbox_id]


def _never_scan_mailboxes(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault for the tick to trip over: any query of the Mailboxes table (point reads and writes still work)."""
    index_scheduled_mailboxes(store)  # the one-time indexing of older schedules is done before

    def scan(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("the tick scanned the Mailboxes table")

    monkeypatch.setattr(store.mailboxes, "query_page", scan)


def test_the_tick_finds_the_due_mailboxes_through_the_index_without_scanning_mailboxes(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = utcnow().replace(microsecond=0) + timedelta(hours=1)
    due, later, unscheduled, moved = (mail_world.new_user(admin) for _ in range(4))
    _schedule(admin, due, at)
    _schedule(admin, later, at + timedelta(hours=2))
    _schedule(admin, moved, at)
    _schedule(admin, moved, at + timedelta(hours=3))  # a changed schedule moves its row
    assert _index_keys(isolated_store, moved)[-1] == isolated_store.get_mailbox(moved).test_enable_row_key
    assert _index_keys(isolated_store, unscheduled) == []
    _never_scan_mailboxes(isolated_store, monkeypatch)
    ours = {due, later, unscheduled, moved}

    queued: list[TestEnableWork] = []
    report = TestEnableScheduler(isolated_store, queued.append, clock=lambda: at).tick()
    assert {work.mailbox_id for work in queued} & ours == {due}
    assert report.stale >= 1 and len(_index_keys(isolated_store, moved)) == 1  # its old row went when read

    queued.clear()
    TestEnableScheduler(isolated_store, queued.append, clock=lambda: at + timedelta(hours=3)).tick()
    assert {later, moved} <= {work.mailbox_id for work in queued} and unscheduled not in {w.mailbox_id for w in queued}


def test_mailboxes_scheduled_before_the_index_existed_are_indexed_by_the_first_tick(
    admin: TestClient, mail_world: MailWorld, isolated_store: Store
) -> None:
    at = utcnow().replace(microsecond=0) + timedelta(hours=1)
    mailbox_id = mail_world.new_user(admin)
    _schedule(admin, mailbox_id, at)
    # as an older version left it: scheduled on the mailbox row, no index row, no marker
    (key,) = _index_keys(isolated_store, mailbox_id)
    isolated_store.test_enable_index.remove(mailbox_id, key)
    row = dict(isolated_store.mailboxes.table.get_entity(mailbox_id, "mailbox"))
    del row["test_enable_row_key"]
    isolated_store.mailboxes.table.upsert_entity(row, mode=UpdateMode.REPLACE)
    isolated_store.test_enable_index.table.delete_entity(*BACKFILLED)
    fresh = Store(isolated_store.account)  # a new process: no marker remembered

    assert mailbox_id in {w.mailbox_id for w in _tick_at_all(fresh, at)}
    assert fresh.test_enable_index.backfilled()


def _tick_at_all(store: Store, when: datetime) -> list[TestEnableWork]:
    queued: list[TestEnableWork] = []
    TestEnableScheduler(store, queued.append, clock=lambda: when).tick()
    return queued
