"""Indexes that find a tracked email from a new one: by Message-ID, tracking token, conversation.

| table             | PartitionKey                         | RowKey      | serves                                   |
|-------------------|--------------------------------------|-------------|------------------------------------------|
| MessageIndex      | sha256(message key)                  | ``m``       | duplicate check (R-ACC-10) and In-Reply-To|
|                   |                                      |             | correlation (R-COR-2): one point read    |
| TokenIndex        | escaped upper-case tracking token    | email id    | token correlation (R-COR-3)              |
| ConversationIndex | sha256(base of the Thread-Index)     | email id    | conversation correlation (R-COR-4)       |
| EmailHashIndex    | subject signature (smart matching)   | email id    | smart matching (R-COR-15..18)            |

Each row carries an :class:`EmailSummary`, so correlating needs no second read of the email.
MessageIndex rows are the fallback of ``sync/incoming/sent_lookup.py``: a Message-ID SendEmail makes names
its email and gets no row (one point read of the email finds it); SendEmail writes one only for a Message-ID
it did not make, and the rows written before Message-IDs named emails stay readable. (A received message
needs none either: its email's id is derived from its Message-ID, so the email row is its own claim.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.model.lookups import EmailSummary, SmartCandidate
from sync.store.keys import safe_key


@dataclass
class MessageClaim:
    """The MessageIndex row of one message: which email it became and which mailboxes saw it."""

    summary: EmailSummary
    mailbox_ids: list[str] = field(default_factory=list)
    etag: str | None = None


def message_partition(message_key: str) -> str:
    return hashlib.sha256(message_key.encode("utf-8")).hexdigest()


class MessageIndex:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def find(self, message_key: str) -> MessageClaim | None:
        try:
            row = self.table.get_entity(message_partition(message_key), "m")
        except ResourceNotFoundError:
            return None
        return MessageClaim(
            summary=EmailSummary.from_row(dict(row)),
            mailbox_ids=json.loads(row.get("mailbox_ids") or "[]"),
            etag=row.metadata.get("etag"),
        )

    def claim(self, message_key: str, summary: EmailSummary, mailbox_id: str) -> bool:
        """Insert the row if absent (SendEmail, for a Message-ID it did not make): True if this call created it."""
        row = {"PartitionKey": message_partition(message_key), "RowKey": "m", **summary.to_row(),
               "mailbox_ids": json.dumps([mailbox_id])}  # fmt: skip
        try:
            self.table.create_entity(row)
        except ResourceExistsError:
            return False
        return True


class SummaryIndex:
    """An index key -> the tracked emails carrying it (tokens, conversations): one partition read."""

    def __init__(self, table: TableClient, *, hash_keys: bool) -> None:
        self.table = table
        self.hash_keys = hash_keys

    def _partition(self, key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest() if self.hash_keys else safe_key(key.upper())

    def add(self, key: str, summary: EmailSummary) -> None:
        row = {"PartitionKey": self._partition(key), "RowKey": summary.email_id, **summary.to_row()}
        self.table.upsert_entity(row, mode=UpdateMode.REPLACE)

    def find(self, key: str) -> list[EmailSummary]:
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": self._partition(key)})
        return [EmailSummary.from_row(dict(row)) for row in rows]


class SmartMatchIndex:
    """Tracked emails by subject signature, with their address hashes (smart matching)."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    def add(self, signature: str, summary: EmailSummary, address_hashes: list[str], created_on: datetime) -> None:
        row = {"PartitionKey": signature, "RowKey": summary.email_id, **summary.to_row(),
               "address_hashes": json.dumps(address_hashes), "tracked_on": created_on}  # fmt: skip
        self.table.upsert_entity(row, mode=UpdateMode.REPLACE)

    def find(self, signature: str) -> list[SmartCandidate]:
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": signature})
        return [
            SmartCandidate(EmailSummary.from_row(dict(row)), json.loads(row["address_hashes"]), row["tracked_on"])
            for row in rows
        ]
