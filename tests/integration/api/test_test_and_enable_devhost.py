"""A profile's Test & Enable end to end through the project's function app on the dev host: the API queues it,
the ``run_test_and_enable`` queue trigger (discovered from ``function_app``) runs it, the API shows progress."""

from __future__ import annotations

import importlib
import sys
from datetime import UTC, datetime
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from sync.devhost import DevHost
from sync.settings import Settings
from tests.integration.api.conftest import MailWorld, imap_smtp_profile

pytestmark = pytest.mark.integration


@pytest.fixture
def function_app(api_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The project's function app on the API tests' store (same prefix, key and CA)."""
    assert api_settings.storage_connection_string is not None and api_settings.extra_ca_file is not None
    monkeypatch.setenv("AzureWebJobsStorage", api_settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", api_settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", api_settings.storage_prefix)
    monkeypatch.setenv("SYNC_EXTRA_CA_FILE", api_settings.extra_ca_file)
    monkeypatch.setenv("SYNC_ALLOW_LOOPBACK_MAIL_HOSTS", "true")  # the test servers listen on 127.0.0.1
    sys.modules.pop("function_app", None)
    return importlib.import_module("function_app")


def test_r_te_1_a_profiles_test_and_enable_is_run_by_the_queue_trigger(
    admin: TestClient, mail_world: MailWorld, function_app: ModuleType, api_settings: Settings
) -> None:
    profile = mail_world.store.profiles.insert(
        imap_smtp_profile(mail_world.dovecot, mail_world.smtp, name="Dev host batch")
    )
    ids = {mail_world.new_user(admin, profile_id=profile.id) for _ in range(2)}
    requested = admin.post(f"/api/profiles/{profile.id}/test-and-enable")
    assert requested.status_code == 202
    start = datetime.now(UTC)
    host = DevHost(function_app.app, api_settings, clock=lambda: start)
    job = next(j for j in host.queues if j.name == "run_test_and_enable")
    assert "schedule_test_and_enable" in {t.name for t in host.timers}
    assert job.queue.queue_name.endswith("-test-and-enable")

    host.run_once(start)  # no timer is due at the start: only the queues are drained
    assert job.stats.succeeded == 2 and job.stats.poisoned == 0
    progress = admin.get(requested.json()["progress"]).json()
    assert (progress["pending"], progress["succeeded"]) == (0, 2)
    assert {m["mailbox_id"] for m in progress["mailboxes"]} == ids
