"""Where the shared MIME corpus is, relative to the repository (it is never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.mail.mime import ParsedMessage, parse_message

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus"
MIME = CORPUS / "mime"
TNEF = MIME / "mimekit" / "tnef"


def require(path: Path) -> Path:
    """The path, or a test failure (not a skip): a missing corpus must not turn the suite green."""
    if not path.exists():
        pytest.fail(f"corpus not found at {path.resolve()}: the shared corpus must sit beside the repository")
    return path


def parse(
    raw: bytes, *, max_bytes: int = 10 * 1024 * 1024, max_nesting: int = 20, timeout: float = 10.0
) -> ParsedMessage:
    return parse_message(raw, max_bytes=max_bytes, max_nesting=max_nesting, timeout_seconds=timeout)
