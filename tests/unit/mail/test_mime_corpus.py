"""The whole shared MIME corpus: every file parses without an exception, and stalwart's oracles agree.

The stalwart ``.json`` files are mail-parser's own parse of each ``.eml``: a differential check of the
subject and of the attachment names. Tolerated differences, on purpose:

- file names are compared without their directory part (we strip ``/u/nsb/.../RFC-MIME.ps`` to the
  base name, so a path in a name cannot reach a blob name);
- we may list more attachments (generated names for unnamed parts, later text parts, TNEF contents);
- ``malformed/019.eml`` starts with ``Fro :u...``: stalwart reads obsolete whitespace before the colon
  as a header, Python's parser ends the header block there, so we see no subject.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from sync.mail.mime import parse_message
from sync.settings import Settings

from .mime_corpus import MIME, parse, require

SUBJECT_KNOWN_DIFFERENT = {"malformed/019"}
# Our own catch-alls: firing on the corpus means a bug here or in the stdlib worth a look.
CATCH_ALL_DEFECTS = ("unreadable part", "unreadable message")


def corpus_files() -> list[Path]:
    return sorted(p for p in require(MIME).rglob("*") if p.is_file())


def test_every_corpus_file_parses() -> None:
    fields = Settings.model_fields
    failures = []
    for path in corpus_files():
        try:
            parse_message(
                path.read_bytes(),
                max_bytes=fields["max_incoming_email_bytes"].default,
                max_nesting=fields["mime_max_nesting"].default,
                timeout_seconds=fields["mime_parse_timeout_seconds"].default,
            )
        except Exception as exc:  # the sweep reports every failure at once
            failures.append(f"{path.relative_to(MIME)}: {type(exc).__name__}: {exc}")
    assert failures == []


def test_corpus_is_complete() -> None:
    assert len(corpus_files()) >= 700


def test_no_catch_all_defect_on_the_corpus() -> None:
    fired = [
        f"{path.relative_to(MIME)}: {defect}"
        for path in corpus_files()
        for defect in parse(path.read_bytes()).defects
        if defect.startswith(CATCH_ALL_DEFECTS)
    ]
    assert fired == []


def _header(part: dict[str, Any], name: str) -> Any:
    return next((h["value"] for h in part["headers"] if h["name"] == name), None)


def _params(value: Any) -> dict[str, str]:
    content = value.get("ContentType") if isinstance(value, dict) else None
    return {a["name"].lower(): a["value"] for a in (content or {}).get("attributes") or []}


def _oracle(path: Path) -> tuple[str, set[str]]:
    """Subject and attachment base names as stalwart's mail-parser saw them."""
    data = json.loads(path.read_text())
    parts = data["parts"]
    subject = _header(parts[0], "subject")
    names = set()
    for index in data["attachments"]:
        part = parts[index]
        name = _params(_header(part, "content_disposition")).get("filename") or _params(
            _header(part, "content_type")
        ).get("name")
        if name:
            names.add(PurePosixPath(name).name)
    return (subject.get("Text", "") if isinstance(subject, dict) else ""), names


def stalwart_cases() -> list[Path]:
    return sorted(p for p in require(MIME / "stalwart").rglob("*.json") if not p.name.endswith(".crlf.json"))


def test_stalwart_oracles_present() -> None:
    assert len(stalwart_cases()) >= 50


def test_subjects_agree_with_stalwart() -> None:
    differ = []
    for oracle in stalwart_cases():
        case = f"{oracle.parent.name}/{oracle.stem}"
        subject, _ = _oracle(oracle)
        ours = parse(oracle.with_suffix(".eml").read_bytes()).subject
        if ours != subject and case not in SUBJECT_KNOWN_DIFFERENT:
            differ.append(f"{case}: {subject!r} != {ours!r}")
    assert differ == []


def test_attachment_names_agree_with_stalwart() -> None:
    missing = []
    for oracle in stalwart_cases():
        _, names = _oracle(oracle)
        ours = {a.file_name for a in parse(oracle.with_suffix(".eml").read_bytes()).attachments}
        if not names <= ours:
            missing.append(f"{oracle.parent.name}/{oracle.stem}: {sorted(names - ours)}")
    assert missing == []
