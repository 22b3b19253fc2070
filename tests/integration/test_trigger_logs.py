"""The triggers' log lines, through the handlers the Functions host calls, on real Azurite."""

from __future__ import annotations

import importlib
import logging
import sys
import uuid
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from sync.scheduling.work import WorkItem
from sync.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def handlers(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The app on storage of its own: nothing another test made due can reach its scheduler."""
    assert settings.storage_connection_string is not None
    monkeypatch.setenv("AzureWebJobsStorage", settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", "logs" + uuid.uuid4().hex[:8])
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    module.services.store.account.ensure_created()
    return {f.get_function_name(): f.get_user_function() for f in module.app.get_functions()}  # once per app


def _info(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The app's own lines (function_app.py logs on the root logger, as the Functions worker expects)."""
    return [r.getMessage() for r in caplog.records if r.name == "root" and r.levelno >= logging.INFO]


def test_an_idle_tick_logs_no_info_line(handlers: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for timer in ("schedule_mailboxes", "outbox_sweep", "schedule_act"):
        handlers[timer](TimerRequest(past_due=False))
    assert _info(caplog) == []
    assert any("nothing due" in r.getMessage() for r in caplog.records)


def test_a_mailbox_cycle_is_one_line_with_its_figures(
    handlers: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    item = WorkItem(mailbox_id=str(uuid.uuid4()), lease_id=str(uuid.uuid4()))
    message = func.QueueMessage(id="m1", body=item.model_dump_json().encode())
    handlers["process_mailbox"](message)
    lines = [line for line in _info(caplog) if line.startswith("mailbox cycle:")]
    assert len(lines) == 1
    for part in (f"mailbox={item.mailbox_id}", "status=stale", "listed=0", "tracked=0", "not_tracked=0", "failed=0"):
        assert part in lines[0]
    assert "duration=" in lines[0]
