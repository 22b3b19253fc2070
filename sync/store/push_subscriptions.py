"""Where a mailbox's Graph change notification subscriptions are kept (docs/push.md).

Table ``PushSubscriptions`` holds two kinds of rows:

- the **record** of one watched resource: PartitionKey = the mailbox id, RowKey = the kind (``mail``,
  ``events``, ``contacts``, ``tasks``). It outlives the Graph subscription it names: a lost subscription
  (creation failed, Graph removed it) keeps its row with no ``subscription_id``, so the renewal timer knows
  what to re-create;
- the **index** row of a live subscription: PartitionKey = ``sub-`` + the escaped subscription id, RowKey
  ``index``, pointing at the record. A notification names only its subscription, so the endpoint finds the
  mailbox with two point reads and no scan.

``client_state`` is the subscription's secret, sealed by the caller (bound to the mailbox and kind); this
module never sees it in clear. Writes are plain upserts: a record is changed by the timer, Test & Enable and
lifecycle notifications, each of which re-reads Graph's truth, so the last writer is as right as any.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import StoreError
from sync.store.keys import safe_key

INDEX_ROW = "index"
INDEX_PREFIX = "sub-"


@dataclass(frozen=True)
class PushSubscription:
    """One watched resource of a mailbox; ``subscription_id`` None means it must be (re-)created."""

    mailbox_id: str
    kind: str
    resource: str
    client_state: str  # sealed
    subscription_id: str | None = None
    expires_on: datetime | None = None


@dataclass(frozen=True)
class IndexEntry:
    subscription_id: str
    mailbox_id: str
    kind: str


def _index_key(subscription_id: str) -> str:
    return INDEX_PREFIX + safe_key(subscription_id)


class PushSubscriptions:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def save(self, record: PushSubscription, replaced: str | None = None) -> None:
        """Write ``record`` (and its index row); drop the index row of ``replaced``, a subscription it follows."""
        entity = {
            "PartitionKey": record.mailbox_id,
            "RowKey": record.kind,
            "resource": record.resource,
            "client_state": str(record.client_state),
            "subscription_id": record.subscription_id or "",
            "has_subscription": record.subscription_id is not None,
        }
        if record.expires_on is not None:
            entity["expires_on"] = record.expires_on
        try:
            if record.subscription_id is not None:
                self.table.upsert_entity(
                    {"PartitionKey": _index_key(record.subscription_id), "RowKey": INDEX_ROW,
                     "mailbox_id": record.mailbox_id, "kind": record.kind},
                    mode=UpdateMode.REPLACE,
                )  # fmt: skip
            self.table.upsert_entity(entity, mode=UpdateMode.REPLACE)
            if replaced and replaced != record.subscription_id:
                self.table.delete_entity(_index_key(replaced), INDEX_ROW)
        except AzureError as exc:
            raise StoreError(f"a push subscription could not be written: {type(exc).__name__}") from exc

    def find(self, mailbox_id: str, kind: str) -> PushSubscription | None:
        try:
            entity = self.table.get_entity(mailbox_id, kind)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StoreError(f"a push subscription could not be read: {type(exc).__name__}") from exc
        return _record(entity)

    def lookup(self, subscription_id: str) -> IndexEntry | None:
        """The mailbox and kind of a live subscription, or None when it is not ours (any more)."""
        try:
            entity = self.table.get_entity(_index_key(subscription_id), INDEX_ROW)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StoreError(f"a push subscription could not be read: {type(exc).__name__}") from exc
        return IndexEntry(subscription_id, str(entity["mailbox_id"]), str(entity["kind"]))

    def of_mailbox(self, mailbox_id: str) -> list[PushSubscription]:
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": mailbox_id})
        return [_record(row) for row in rows]

    def needing_work(self, renew_before: datetime) -> Iterator[PushSubscription]:
        """Records whose subscription expires before ``renew_before``, or that have none (lost)."""
        query = "has_subscription eq false or expires_on lt @t"
        for row in self.table.query_entities(query, parameters={"t": renew_before}):
            yield _record(row)

    def delete(self, record: PushSubscription) -> None:
        try:
            if record.subscription_id:
                self.table.delete_entity(_index_key(record.subscription_id), INDEX_ROW)
            self.table.delete_entity(record.mailbox_id, record.kind)
        except AzureError as exc:
            raise StoreError(f"a push subscription could not be deleted: {type(exc).__name__}") from exc


def _record(entity: dict[str, object]) -> PushSubscription:
    expires = entity.get("expires_on")
    return PushSubscription(
        mailbox_id=str(entity["PartitionKey"]),
        kind=str(entity["RowKey"]),
        resource=str(entity.get("resource") or ""),
        client_state=str(entity.get("client_state") or ""),
        subscription_id=str(entity.get("subscription_id") or "") or None,
        expires_on=expires if isinstance(expires, datetime) else None,
    )
