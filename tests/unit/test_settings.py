import base64

import pytest

from sync.errors import ConfigurationError
from sync.settings import load_settings, setting_names

KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for names in setting_names().values():
        for name in names:
            monkeypatch.delenv(name, raising=False)


def test_connection_string_and_key_are_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    settings = load_settings()
    assert settings.storage_account_name is None
    assert settings.aes_key() == b"k" * 32
    assert settings.lease_seconds == settings.function_timeout_seconds + 120


def test_identity_based_account_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "prodsync")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    assert load_settings().storage_account_name == "prodsync"


def test_missing_key_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    with pytest.raises(ConfigurationError, match="SYNC_SECRET_ENCRYPTION_KEY"):
        load_settings()


@pytest.mark.parametrize(
    ("value", "reason"),
    [("not base64!!", "base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_bad_key_says_why(monkeypatch: pytest.MonkeyPatch, value: str, reason: str) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", value)
    with pytest.raises(ConfigurationError, match=reason):
        load_settings()


def test_both_storage_targets_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "prodsync")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    with pytest.raises(ConfigurationError, match="exactly one"):
        load_settings()


def test_no_storage_target_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    with pytest.raises(ConfigurationError, match="exactly one"):
        load_settings()


def test_every_bad_setting_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("SYNC_MAILBOX_SCHEDULE", "every minute")
    monkeypatch.setenv("SYNC_MAX_EMAILS_PER_CYCLE", "0")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "SYNC_MAILBOX_SCHEDULE" in str(info.value)
    assert "SYNC_MAX_EMAILS_PER_CYCLE" in str(info.value)


def test_budget_must_fit_in_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("SYNC_WORKER_BUDGET_SECONDS", "700")
    with pytest.raises(ConfigurationError, match="below"):
        load_settings()


@pytest.mark.parametrize("prefix", ["Upper", "1abc", "has-dash", "x" * 21])
def test_storage_prefix_must_be_storage_safe(monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", prefix)
    with pytest.raises(ConfigurationError, match="SYNC_STORAGE_PREFIX"):
        load_settings()


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "DefaultEndpointsProtocol=http;AccountKey=topsecretkey")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    text = repr(load_settings())
    assert "topsecretkey" not in text
    assert KEY not in text


def test_missing_key_and_storage_are_reported_together() -> None:
    """Both at once: fixing one must not reveal the next on the following start."""
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert "SYNC_SECRET_ENCRYPTION_KEY: is not set" in message
    assert "AzureWebJobsStorage" in message and "neither is set" in message
    assert "2 problems" in message


def test_each_problem_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_API_KEYS", "not-a-digest")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    lines = str(info.value).splitlines()[1:]
    assert len(lines) == 3
    assert all(". Fix: " in line for line in lines)
    assert any("python -m sync new-key" in line for line in lines)
    assert any(line.strip().startswith("- SYNC_API_KEYS:") and "new-api-key" in line for line in lines)


def test_value_rules_are_reported_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    monkeypatch.setenv("SYNC_WORKER_BUDGET_SECONDS", "700")
    monkeypatch.setenv("SYNC_POLL_BUSY_MINUTES", "20")
    monkeypatch.setenv("SYNC_POLL_BURST_CYCLES", "13")  # more than the hour's 12 cycles
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "SYNC_WORKER_BUDGET_SECONDS" in str(info.value)
    assert "SYNC_POLL_BUSY_MINUTES" in str(info.value)
    assert "SYNC_POLL_BURST_CYCLES" in str(info.value)


def test_an_empty_connection_string_is_not_a_storage_target(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)
    with pytest.raises(ConfigurationError, match="neither is set"):
        load_settings()
