"""Sender, Message-ID and subject -> the messages not tracked with it, in every mailbox of the organization.

| table           | PartitionKey                                  | RowKey                          |
|-----------------|-----------------------------------------------|---------------------------------|
| NotTrackedIndex | ``s``/``m``/``t`` + sha256(normalized value)  | mailbox id ``|`` failure row key |

Item failures (``ItemFailures``) are partitioned by mailbox, which suits a mailbox's page but makes "why was this
email not tracked?" across 10,000 mailboxes a scan of the whole table. This index answers it with one partition
query per search. Its rows are written and removed with the failure itself (:class:`ItemFailures`), so no caller
can forget them; a search still reads each hit's failure, so a row that outlived its failure answers nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.model import ItemFailure
from sync.store import schema
from sync.store.repository import Repository

_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
ROW_SEPARATOR = "|"


class SearchKey(StrEnum):
    """What a search matches: the sender's address, the Message-ID, or the whole subject."""

    SENDER = "s"
    MESSAGE_ID = "m"
    SUBJECT = "t"


def normalize(kind: SearchKey, value: str) -> str:
    """The form both the index and a search use, so ``RE: Hello`` finds ``hello`` and ``<id@x>`` finds ``id@x``."""
    text = _SPACE.sub(" ", value).strip()
    if kind is SearchKey.MESSAGE_ID:
        return text.strip("<>").strip().casefold()
    if kind is SearchKey.SUBJECT:
        return _REPLY_PREFIX.sub("", text).strip().casefold()
    return text.casefold()


def partition(kind: SearchKey, value: str) -> str | None:
    """The partition of ``value``; None for an empty value (nothing to index or find)."""
    normalized = normalize(kind, value)
    if not normalized:
        return None
    return kind.value + hashlib.sha256(normalized.encode("utf-8")).hexdigest()


def values_of(failure: ItemFailure) -> dict[SearchKey, str | None]:
    return {
        SearchKey.SENDER: failure.sender,
        SearchKey.MESSAGE_ID: failure.message_id,
        SearchKey.SUBJECT: failure.subject,
    }


@dataclass(frozen=True)
class IndexHit:
    """Where a failure lives: its mailbox's partition and its row in ``ItemFailures``."""

    mailbox_id: str
    row_key: str


class NotTrackedIndex:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def add(self, failure: ItemFailure, row_key: str) -> None:
        """One idempotent upsert per value the failure has (at most three)."""
        for kind, value in values_of(failure).items():
            key = partition(kind, value or "")
            if key is not None:
                self.table.upsert_entity(
                    {"PartitionKey": key, "RowKey": f"{failure.mailbox_id}{ROW_SEPARATOR}{row_key}"},
                    mode=UpdateMode.REPLACE,
                )

    def remove(self, failure: ItemFailure, row_key: str) -> None:
        for kind, value in values_of(failure).items():
            key = partition(kind, value or "")
            if key is not None:
                with contextlib.suppress(ResourceNotFoundError):
                    self.table.delete_entity(key, f"{failure.mailbox_id}{ROW_SEPARATOR}{row_key}")

    def find(self, kind: SearchKey, value: str, *, limit: int) -> Iterator[IndexHit]:
        """Up to ``limit`` failures with that value, in mailbox order (one query page per 1,000 hits)."""
        key = partition(kind, value)
        if key is None:
            return
        rows = self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": key}, select=["RowKey"], results_per_page=min(limit, 1000)
        )
        for count, row in enumerate(rows):
            if count >= limit:
                return
            mailbox_id, _, row_key = str(row["RowKey"]).partition(ROW_SEPARATOR)
            yield IndexHit(mailbox_id, row_key)


class ItemFailures(Repository[ItemFailure]):
    """The ``ItemFailures`` repository that keeps :class:`NotTrackedIndex` in step with every insert, upsert and delete.

    An update keeps the indexed values (a failure's sender, Message-ID and subject never change), so it writes no
    index row. Cost: one to three more Table writes per message not tracked; a tracked message costs nothing more.
    """

    def __init__(self, table: TableClient, index: NotTrackedIndex) -> None:
        super().__init__(table, ItemFailure, schema.ITEM_FAILURE_KEYS)
        self.index = index

    def insert(self, entity: ItemFailure) -> ItemFailure:
        saved = super().insert(entity)
        self.index.add(saved, self.keys.row_key(saved))
        return saved

    def upsert(self, entity: ItemFailure) -> ItemFailure:
        saved = super().upsert(entity)
        self.index.add(saved, self.keys.row_key(saved))
        return saved

    def delete(self, entity: ItemFailure, *, if_unchanged: bool = True) -> None:
        super().delete(entity, if_unchanged=if_unchanged)
        self.index.remove(entity, self.keys.row_key(entity))
