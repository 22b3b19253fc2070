"""SYNC_ENTRA_AUTHORITY: optional, https only, like the admin API's authority."""

from __future__ import annotations

import base64

import pytest

from sync.errors import ConfigurationError
from sync.settings import load_settings, setting_names

KEY = base64.b64encode(b"k" * 32).decode()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for names in setting_names().values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", KEY)


def test_it_defaults_to_none_meaning_microsoft_entra() -> None:
    assert load_settings().entra_authority is None


def test_an_https_authority_is_kept_without_its_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_ENTRA_AUTHORITY", "https://localhost:8443/")
    assert load_settings().entra_authority == "https://localhost:8443"


def test_plain_http_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_ENTRA_AUTHORITY", "http://localhost:8443")
    with pytest.raises(ConfigurationError, match=r"SYNC_ENTRA_AUTHORITY: .*https"):
        load_settings()
