"""``python -m sync serve`` fails at start with one readable message, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

from devstack.azurite import ACCOUNT_KEY, ACCOUNT_NAME
from devstack.ports import LOOPBACK, free_port
from sync.auth.secrets import new_key
from sync.settings import setting_names

START_TIMEOUT_S = 120.0  # importing the app on a loaded 2-core runner; the failure itself is immediate


def _serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not any(k in names for names in setting_names().values())}
    return subprocess.run(
        [sys.executable, "-m", "sync", "serve", "--no-http"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )


def test_every_missing_setting_in_one_message() -> None:
    result = _serve({})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "SYNC_SECRET_ENCRYPTION_KEY: is not set" in result.stderr
    assert "AzureWebJobsStorage" in result.stderr


def test_unreachable_storage_is_one_line_naming_the_endpoint() -> None:
    port = free_port()  # nothing listens there: connections are refused at once
    endpoint = f"http://{LOOPBACK}:{port}/{ACCOUNT_NAME}"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint};QueueEndpoint={endpoint};TableEndpoint={endpoint};"
    )
    result = _serve({"AzureWebJobsStorage": connection, "SYNC_SECRET_ENCRYPTION_KEY": new_key()})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: storage is unreachable at " + endpoint)
    assert "Connection refused" in lines[0]


def test_the_functions_app_lists_every_problem_at_import() -> None:
    """The Functions host imports function_app.py: the same one message, before any trigger is registered."""
    clean = {k: v for k, v in os.environ.items() if not any(k in names for names in setting_names().values())}
    result = subprocess.run(
        [sys.executable, "-c", "import function_app"],
        env={**clean, "SYNC_MAX_EMAILS_PER_CYCLE": "0"},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert result.returncode != 0
    assert "invalid app settings (3 problems" in result.stderr
    for setting in ("SYNC_SECRET_ENCRYPTION_KEY", "AzureWebJobsStorage", "SYNC_MAX_EMAILS_PER_CYCLE"):
        assert f"- {setting}" in result.stderr
