"""local.settings.json across make dev runs: the key stays, the minted API key is replaced, others stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.local_settings import DEV_DIGEST, dev_values, read_values, write
from sync.settings import load_settings, setting_names

OWN = "a" * 64


def _values(existing: dict[str, str], digest: str) -> dict[str, str]:
    return dev_values(existing, connection_string="conn", ca_file="/ca.pem", api_key_digest=digest)


def test_the_first_run_makes_a_key_and_lists_its_api_key() -> None:
    values = _values({}, "1" * 64)
    assert values["SYNC_API_KEYS"] == f"{'1' * 64}:admin+approver"
    assert len(values["SYNC_SECRET_ENCRYPTION_KEY"]) == 44
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert values["SYNC_ALLOW_LOOPBACK_MAIL_HOSTS"] == "true"  # the local mail servers listen on 127.0.0.1


def test_the_next_run_keeps_the_key_and_replaces_only_its_own_api_key() -> None:
    first = _values({}, "1" * 64)
    first["SYNC_API_KEYS"] += f",{OWN}:reader"
    second = _values(first, "2" * 64)
    assert second["SYNC_SECRET_ENCRYPTION_KEY"] == first["SYNC_SECRET_ENCRYPTION_KEY"]
    assert second["SYNC_API_KEYS"] == f"{'2' * 64}:admin+approver,{OWN}:reader"
    assert second[DEV_DIGEST] == "2" * 64


def test_the_file_is_in_the_functions_format_and_private(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    write(path, {"A": "1"}, api_port=7071)
    assert json.loads(path.read_text()) == {"IsEncrypted": False, "Values": {"A": "1"}, "Host": {"LocalHttpPort": 7071}}
    assert path.stat().st_mode & 0o077 == 0
    assert read_values(path) == {"A": "1"}


def test_dev_mailboxes_are_polled_every_minute_unless_set_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    for names in setting_names().values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    for name, value in _values({}, "1" * 64).items():  # as the dev host loads local.settings.json
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    cadence = load_settings()
    assert (cadence.poll_idle_max_minutes, cadence.poll_cycles_per_hour) == (1, 0)  # 0: no poll budget
    assert _values({"SYNC_POLL_IDLE_MAX_MINUTES": "12"}, "1" * 64)["SYNC_POLL_IDLE_MAX_MINUTES"] == "12"
