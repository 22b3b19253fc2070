"""Every real-world message in the shared corpus is tracked or recorded with a reason; nothing escapes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sync.incoming.worker import MailboxWorker
from sync.mail.port import ConnectionSettings, RemoteMessage
from sync.model.mailbox import FolderWatermark
from sync.model.options import FilteringMethod, ServerType
from tests.integration.incoming.conftest import World

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "mime"


def corpus_files() -> list[Path]:
    assert CORPUS.is_dir(), f"the shared MIME corpus is missing at {CORPUS}"
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".json", ".list"))


@dataclass
class CorpusSession:
    """An in-memory Inbox holding the corpus: the worker and everything behind it are the real ones."""

    files: list[Path]

    def list_new(self, watermark: FolderWatermark, processed_keys: frozenset[str]) -> list[RemoteMessage]:
        return [
            RemoteMessage(key=str(n), size=path.stat().st_size, received_on=None)
            for n, path in enumerate(self.files)
            if str(n) not in processed_keys
        ]

    def fetch(self, message: RemoteMessage) -> bytes:
        return self.files[int(message.key)].read_bytes()

    def delete(self, messages: list[RemoteMessage]) -> None:
        raise AssertionError("user mailboxes never delete")

    def advance(self, watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
        return watermark

    def close(self) -> None:
        pass


@dataclass
class CorpusConnector:
    session: CorpusSession

    def open(self, settings: ConnectionSettings) -> CorpusSession:
        return self.session


def test_every_corpus_message_is_tracked_or_has_a_reason(world: World) -> None:
    files = corpus_files()
    assert len(files) > 300
    mailbox = world.user_mailbox(world.pop3, FilteringMethod.ALL_EMAIL)
    settings = world.settings.model_copy(update={"max_emails_per_cycle": len(files), "worker_budget_seconds": 500})
    worker = MailboxWorker(
        world.store, settings, world.box, {ServerType.POP3_SMTP: CorpusConnector(CorpusSession(files))}
    )
    report = worker.run(world.claim(mailbox))
    assert report.status == "processed", report.error
    assert report.tracked + report.not_tracked + report.quarantined == len(files)
    assert report.tracked > len(files) // 3
    assert sum(report.reasons.values()) == len(files)  # every message has its reason
    failures = list(world.store.item_failures.partition(mailbox.id))
    assert failures and all(f.reason and f.reason != "Unknown" for f in failures)
    quarantined = [f.details or "" for f in failures if f.reason == "Quarantined"]
    over_limit = [d for d in quarantined if d.startswith("MessageOverLimit: ")]  # a hard parse limit, named
    assert (len(over_limit), set(quarantined) - set(over_limit)) == (1, set())  # flanker's enclosed-endless.eml
