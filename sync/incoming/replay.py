"""Replay quarantined messages after a fix: run them through the pipeline again, then drop the quarantine.

A quarantined message, or one still waiting for its automatic retries (R-REC-9), keeps its raw bytes in the
``quarantine`` container and an item-level record with the reason. Replaying is safe to repeat: the
MessageIndex claim keeps it from becoming two emails.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.errors import NotFound
from sync.incoming.processor import IncomingProcessor
from sync.incoming.reasons import Reason
from sync.model.email import BlobRef
from sync.settings import Settings
from sync.store.names import Container
from sync.store.store import Store

_KEPT = frozenset({Reason.QUARANTINED.label, Reason.RETRY_PENDING.label})  # a fix need not wait for the retries


@dataclass(frozen=True)
class Replayed:
    message_key: str
    outcome: str  # the new reason label, or the error that kept it quarantined
    released: bool


def replay_quarantine(store: Store, settings: Settings, mailbox_id: str) -> list[Replayed]:
    mailbox = store.get_mailbox(mailbox_id)
    profile = store.find_profile(mailbox.email_server_profile_id or "")
    if profile is None:
        raise NotFound(f"mailbox {mailbox_id} has no email server profile to replay with")
    processor = IncomingProcessor(store, settings, store.get_organization(), mailbox, profile)
    results: list[Replayed] = []
    for failure in store.item_failures.partition(mailbox_id):
        if failure.reason not in _KEPT or not failure.quarantine_blob:
            continue
        ref = BlobRef(container=Container.QUARANTINE.value, name=failure.quarantine_blob, size=0)
        raw = store.blobs.get(ref)
        try:
            outcome = processor.process(raw, failure.received_on)
        except Exception as exc:  # still broken: keep it quarantined, say why
            results.append(Replayed(failure.message_key, f"{type(exc).__name__}: {exc}", released=False))
            continue
        store.item_failures.delete(failure, if_unchanged=False)
        store.blobs.delete(ref)
        results.append(Replayed(failure.message_key, outcome.reason.label, released=True))
    return results
