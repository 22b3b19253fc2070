"""The messages of one mailbox waiting for another try after their processing failed (R-REC-9, R-ERR-8).

A message that breaks processing is not dropped and does not hold up the messages after it: the watermark moves
past it, its raw bytes are kept in the ``quarantine`` container and an ItemFailure row (``RetryPending``) holds
its tries and when the next is due. Later cycles run the kept bytes through the pipeline again (no download);
success removes the row and the bytes, and after the last failed try (:mod:`sync.health.item_retries`) the row
becomes ``Quarantined``: kept for an administrator's replay, the message marked Undeliverable.
The mailbox row carries the earliest due try, so a cycle with nothing due reads nothing more.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from sync.health import item_retries
from sync.incoming.reasons import Reason
from sync.mail.port import RemoteMessage
from sync.model import ItemFailure
from sync.model.email import BlobRef
from sync.store.names import Container
from sync.store.store import Store


def _details(exc: BaseException | str) -> str:
    return (exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}")[:2048]


class ItemRetries:
    def __init__(self, store: Store, retention_days: int, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.clock = clock

    def first_failure(
        self, mailbox_id: str, remote: RemoteMessage, folder_key: str, raw: bytes, error: BaseException | str, *,
        subject: str = "", sender: str | None = None, message_id: str | None = None,
    ) -> ItemFailure:  # fmt: skip
        """Keep the bytes and record the first failed try; the row is keyed by the bytes' digest."""
        digest = hashlib.sha256(raw).hexdigest()
        ref = self.store.blobs.put(Container.QUARANTINE, f"{mailbox_id}/{digest}.eml", raw, "message/rfc822")
        now = self.clock()
        verdict = item_retries.after_failure(0, now)
        failure = ItemFailure(
            mailbox_id=mailbox_id, message_key=f"sha256:{digest}", message_id=(message_id or "")[:1024] or None,
            subject=subject[:800], sender=(sender or "")[:256] or None, reason=Reason.RETRY_PENDING.label,
            reason_code=int(Reason.RETRY_PENDING), details=_details(error), received_on=remote.received_on,
            expires_on=now + self.retention, quarantine_blob=ref.name, attempts=verdict.attempt,
            retry_on=verdict.retry_on, remote_key=remote.key[:1024], folder_key=folder_key[:256],
        )  # fmt: skip
        if verdict.give_up:
            self._give_up(failure)
        self.store.item_failures.upsert(failure)
        return failure

    def due(self, mailbox_id: str, now: datetime) -> list[ItemFailure]:
        """The waiting messages whose next try is due, earliest first."""
        found = self.store.item_failures.query(
            "PartitionKey eq @pk and reason eq @reason and retry_on le @now",
            {"pk": mailbox_id, "reason": Reason.RETRY_PENDING.label, "now": now},
        )
        return sorted(found, key=lambda f: f.retry_on or now)

    def next_due(self, mailbox_id: str) -> datetime | None:
        """The earliest due try of the mailbox's waiting messages (None when none waits)."""
        found = self.store.item_failures.query(
            "PartitionKey eq @pk and reason eq @reason", {"pk": mailbox_id, "reason": Reason.RETRY_PENDING.label}
        )
        dues = [f.retry_on for f in found if f.retry_on is not None]
        return min(dues) if dues else None

    def raw(self, failure: ItemFailure) -> bytes:
        return self.store.blobs.get(self._blob(failure))

    def succeeded(self, failure: ItemFailure) -> None:
        """Processed at last: the row and the kept bytes go."""
        self.store.item_failures.delete(failure, if_unchanged=False)
        self.store.blobs.delete(self._blob(failure))

    def failed_again(self, failure: ItemFailure, error: BaseException | str) -> ItemFailure:
        """Count the try; after the last one the message is quarantined (its bytes stay for a replay)."""
        now = self.clock()
        verdict = item_retries.after_failure(failure.attempts, now)
        failure = failure.model_copy(
            update={"attempts": verdict.attempt, "retry_on": verdict.retry_on, "details": _details(error),
                    "expires_on": now + self.retention}
        )  # fmt: skip
        if verdict.give_up:
            self._give_up(failure)
        self.store.item_failures.upsert(failure)
        return failure

    @staticmethod
    def _give_up(failure: ItemFailure) -> None:
        failure.reason, failure.reason_code = Reason.QUARANTINED.label, int(Reason.QUARANTINED)
        failure.retry_on = None

    @staticmethod
    def _blob(failure: ItemFailure) -> BlobRef:
        return BlobRef(container=Container.QUARANTINE.value, name=failure.quarantine_blob or "", size=0)
