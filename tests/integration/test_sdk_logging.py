"""The Functions app keeps the Azure SDK's HTTP logging quiet: a storage call logs no request or headers."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from sync.logging_setup import NOISY_SDK_LOGGERS
from sync.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def function_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    assert settings.storage_connection_string is not None
    monkeypatch.setenv("AzureWebJobsStorage", settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", settings.storage_prefix)
    monkeypatch.setenv("SYNC_ALLOW_LOOPBACK_MAIL_HOSTS", "true")  # the test servers listen on 127.0.0.1
    for name in NOISY_SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)  # as a fresh worker process starts
    sys.modules.pop("function_app", None)
    yield importlib.import_module("function_app")
    for name in NOISY_SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_a_storage_call_at_info_logs_nothing_from_the_sdk(
    function_app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the Functions host captures INFO
    function_app.services.store.account.ping()
    sdk = [r for r in caplog.records if r.name.split(".")[0] in ("azure", "msal", "urllib3")]
    assert sdk == []


def test_the_sdk_level_can_be_raised(
    settings: Settings, function_app: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SYNC_SDK_LOG_LEVEL", "INFO")
    sys.modules.pop("function_app", None)
    app = importlib.import_module("function_app")
    caplog.set_level(logging.INFO)
    app.services.store.account.ping()
    assert any(r.name == "azure.core.pipeline.policies.http_logging_policy" for r in caplog.records)
