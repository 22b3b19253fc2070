"""``run_parse``: the command behind ``python -m sync parse FILE``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.mail.parse_cli import run_parse

MESSAGE = b"From: Carol <carol@fabrikam.test>\nTo: alice@example.test\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\nHi\n"


def test_prints_json_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(MESSAGE)
    run_parse(str(path))
    assert json.loads(capsys.readouterr().out)["subject"] == "Grüße"


def test_non_ascii_printed_as_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(MESSAGE)
    run_parse(str(path))
    assert '"subject": "Grüße"' in capsys.readouterr().out


def test_returns_zero(tmp_path: Path) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(MESSAGE)
    assert run_parse(str(path)) == 0


def test_missing_file_returns_two(tmp_path: Path) -> None:
    assert run_parse(str(tmp_path / "absent.eml")) == 2


def test_missing_file_explained_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_parse(str(tmp_path / "absent.eml"))
    assert "cannot read" in capsys.readouterr().err


def test_directory_is_unreadable(tmp_path: Path) -> None:
    assert run_parse(str(tmp_path)) == 2


def test_needs_no_app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNC_SECRET_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("SYNC_STORAGE_CONNECTION_STRING", raising=False)
    path = tmp_path / "m.eml"
    path.write_bytes(MESSAGE)
    assert run_parse(str(path)) == 0
