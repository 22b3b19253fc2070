"""The ``outgoing-mail`` queue message: which email to send, with a signed snapshot that saves a read.

Whoever writes an email as Pending Send (SendEmail, a retry, a deferral, the sweep) enqueues the row it
just wrote — its JSON and ETag — when it fits in a queue message. The sender then claims with that ETag
directly: if the claim's compare-and-swap succeeds the row is exactly the snapshot, so no read was
needed; if it fails the sender reads the row and decides again. The snapshot is only trusted with a
valid HMAC (a key derived from the deployment's secret key), so write access to the queue alone cannot
put content into an email row; an unsigned or altered snapshot just costs that read.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import timedelta

from azure.storage.queue import QueueClient, QueueMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sync.model.email import Email
from sync.model.fields import Str36

MAX_SNAPSHOT_CHARS = 40_000  # 64 KiB per message, base64-encoded: about 48,000 characters of JSON fit
MAX_DELAY = timedelta(days=6)  # under the 7 days a queue message may stay invisible
_KEY_LABEL = b"sync/outgoing-mail snapshot signature v1"


class OutgoingWork(BaseModel):
    """Send ``email_id``; ``snapshot`` is the email row as of ``etag``, signed with ``mac``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email_id: Str36
    etag: str | None = Field(default=None, max_length=200)
    snapshot: str | None = Field(default=None, max_length=MAX_SNAPSHOT_CHARS)
    mac: str | None = Field(default=None, max_length=64)


class WorkSigner:
    """Signs and checks snapshots with a key derived from the deployment's secret key."""

    def __init__(self, secret_key: bytes) -> None:
        self._key = hmac.new(secret_key, _KEY_LABEL, hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "WorkSigner(key=***)"

    def work(self, email: Email) -> OutgoingWork:
        """The message for ``email`` as just written (with its ETag); id only when the row is too large."""
        snapshot = email.model_dump_json()
        if email.etag is None or len(snapshot) > MAX_SNAPSHOT_CHARS:
            return OutgoingWork(email_id=email.id)
        return OutgoingWork(
            email_id=email.id, etag=email.etag, snapshot=snapshot, mac=self._mac(email.id, email.etag, snapshot)
        )

    def open(self, work: OutgoingWork) -> Email | None:
        """The snapshot as an email carrying its ETag, or None when absent, unsigned or not genuine."""
        if work.snapshot is None or work.etag is None or work.mac is None:
            return None
        if not hmac.compare_digest(work.mac, self._mac(work.email_id, work.etag, work.snapshot)):
            return None
        try:
            email = Email.model_validate_json(work.snapshot)
        except ValidationError:
            return None
        if email.id != work.email_id:
            return None
        email.with_etag(work.etag)
        return email

    def _mac(self, email_id: str, etag: str, snapshot: str) -> str:
        message = b"\x1f".join(part.encode("utf-8") for part in (email_id, etag, snapshot))
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def visibility_seconds(delay: timedelta) -> int:
    """The queue's whole-second visibility for ``delay``, rounded *up*: a message must never arrive before
    its time (truncating 59.9 s to 59 s made the sender find the email still postponed)."""
    return math.ceil(min(max(delay.total_seconds(), 0.0), MAX_DELAY.total_seconds()))


class OutboxQueue:
    """Puts work on ``outgoing-mail``: base64 JSON (the Functions host's encoding), delayed if asked."""

    def __init__(self, client: QueueClient) -> None:
        self.client = client

    def put(self, work: OutgoingWork, delay: timedelta = timedelta(0)) -> QueueMessage:
        """Send ``work``, invisible for ``delay`` rounded up to a whole second; the queue's receipt."""
        seconds = visibility_seconds(delay)
        # time_to_live -1: a message delayed for days must not expire before it becomes visible
        return self.client.send_message(work.model_dump_json(), visibility_timeout=seconds or None, time_to_live=-1)
