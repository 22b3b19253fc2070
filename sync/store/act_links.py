"""Links between CRM records and Exchange items, per mailbox, found either way (spec §1.3).

Keys, all in the mailbox's partition of ``SyncIdMappings`` (so a cycle reads one partition):

- ``c|{type}|{record id}`` — the :class:`ExchangeSyncIdMapping`: the record's link and sync state;
- ``x|{sha256(Exchange item id)}`` — an :class:`ExchangeItemLookup` that names the record of an item;
- ``d|{sha256(Exchange item id)}`` — a :class:`SchedulingConflict` waiting for the user's decision.

The CRM side never reads these rows: :meth:`ActLinks.note_change` merges three properties (the new version,
``pending``, ``deleted_in_crm``) into the row, creating it if needed, so a CRM write costs one request per
interested mailbox and never conflicts with the sync's own compare-and-swap (which it makes fail, so the
sync re-reads and sees the new version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import AlreadyExists, ConcurrencyConflict, StoreError
from sync.model import ExchangeItemLookup, ExchangeSyncIdMapping, SchedulingConflict
from sync.model.options import EntityType
from sync.store.keys import hashed_key
from sync.store.overlap import overlap
from sync.store.repository import KeyScheme, Repository


@dataclass(frozen=True)
class DeletedMeeting:
    """An appointment deleted in the CRM, as one mailbox's user saw it (R-ACT-8)."""

    organized: bool
    last_start: datetime  # a series': its last occurrence's (at the latest)
    with_attendees: bool


def mark_synced(link: ExchangeSyncIdMapping, version: int) -> None:
    """Exchange has ``version`` of the record: ``pending`` stays only if the CRM moved on since."""
    link.crm_version_synced = version
    link.pending = link.crm_version > version
    link.retries, link.failed_version, link.last_sync_error = 0, None, None


def link_key(object_type: EntityType, object_id: str) -> str:
    return f"c|{int(object_type)}|{object_id}"


def lookup_key(exchange_entry_id: str) -> str:
    return f"x|{hashed_key(exchange_entry_id)}"


def conflict_key(exchange_entry_id: str) -> str:
    return f"d|{hashed_key(exchange_entry_id)}"


LINK_KEYS: KeyScheme[ExchangeSyncIdMapping] = KeyScheme(
    lambda m: m.mailbox_id, lambda m: link_key(m.object_type, m.object_id)
)
CONFLICT_KEYS: KeyScheme[SchedulingConflict] = KeyScheme(
    lambda c: c.mailbox_id, lambda c: conflict_key(c.exchange_entry_id)
)
LOOKUP_KEYS: KeyScheme[ExchangeItemLookup] = KeyScheme(
    lambda m: m.mailbox_id, lambda m: lookup_key(m.exchange_entry_id)
)


class ActLinks:
    def __init__(self, table: TableClient) -> None:
        self.table = table
        self.links = Repository(table, ExchangeSyncIdMapping, LINK_KEYS)
        self.lookups = Repository(table, ExchangeItemLookup, LOOKUP_KEYS)
        self.conflicts = Repository(table, SchedulingConflict, CONFLICT_KEYS)

    # --- the CRM side -------------------------------------------------------------------------------
    def note_change(
        self, mailbox_id: str, object_type: EntityType, object_id: str, version: int, *, deleted: bool = False,
        meeting: DeletedMeeting | None = None,
    ) -> None:  # fmt: skip
        """The record changed (or was deleted): the mailbox's next ACT cycle looks at it. ``meeting`` is what
        R-ACT-8 needs of a deleted appointment, kept on the link since the record is gone."""
        entity: dict[str, object] = {
            "PartitionKey": mailbox_id,
            "RowKey": link_key(object_type, object_id),
            "mailbox_id": mailbox_id,
            "object_id": object_id,
            "object_type": int(object_type),
            "crm_version": version,
            "pending": True,
            "deleted_in_crm": deleted,
        }
        if meeting is not None:
            entity |= {
                "deleted_organized": meeting.organized,
                "deleted_last_start": meeting.last_start,
                "deleted_with_attendees": meeting.with_attendees,
            }
        try:
            self.table.upsert_entity(entity, mode=UpdateMode.MERGE)
        except AzureError as exc:
            raise StoreError(f"noting a change of {object_type.name} {object_id} for {mailbox_id}: {exc}") from exc

    # --- the sync side ------------------------------------------------------------------------------
    def find(self, mailbox_id: str, object_type: EntityType, object_id: str) -> ExchangeSyncIdMapping | None:
        return self.links.find(mailbox_id, link_key(object_type, object_id))

    def by_item(self, mailbox_id: str, exchange_entry_id: str) -> ExchangeSyncIdMapping | None:
        """The link of an Exchange item, or None when the item is not linked (two point reads)."""
        lookup = self.lookups.find(mailbox_id, lookup_key(exchange_entry_id))
        if lookup is None:
            return None
        link = self.find(mailbox_id, lookup.object_type, lookup.object_id)
        return link if link is not None and link.exchange_entry_id == exchange_entry_id else None

    def of_type(self, mailbox_id: str, object_type: EntityType) -> Iterator[ExchangeSyncIdMapping]:
        """The mailbox's links of one record type (one range of its partition)."""
        low = f"c|{int(object_type)}|"
        return self.links.query(
            "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high",
            {"pk": mailbox_id, "low": low, "high": low[:-1] + "}"},
        )

    def conflicts_of(self, mailbox_id: str) -> Iterator[SchedulingConflict]:
        """The mailbox's scheduling conflicts, answered or not."""
        return self.conflicts.query("PartitionKey eq @pk and RowKey ge 'd|' and RowKey lt 'd}'", {"pk": mailbox_id})

    def decided_conflicts(self, mailbox_id: str) -> Iterator[SchedulingConflict]:
        """Scheduling conflicts the user has answered, to act on in the next cycle."""
        return self.conflicts.query(
            "PartitionKey eq @pk and RowKey ge 'd|' and RowKey lt 'd}' and (decision eq true or decision eq false)",
            {"pk": mailbox_id},
        )

    def pending(self, mailbox_id: str) -> Iterator[ExchangeSyncIdMapping]:
        """The mailbox's records changed on the CRM side since they were last synced."""
        return self.links.query(
            "PartitionKey eq @pk and RowKey ge 'c|' and RowKey lt 'c}' and pending eq true", {"pk": mailbox_id}
        )

    def attach(
        self, link: ExchangeSyncIdMapping, exchange_entry_id: str, change_key: str, *, synced_version: int | None = None
    ) -> ExchangeSyncIdMapping:
        """Record the item of ``link`` (one compare-and-swap; re-read and re-applied if the CRM wrote meanwhile),
        and that Exchange has ``synced_version`` of the record; and the item's lookup row."""

        def attached(stored: ExchangeSyncIdMapping) -> None:
            stored.exchange_entry_id, stored.change_key, stored.create_started_on = exchange_entry_id, change_key, None
            if synced_version is not None:
                mark_synced(stored, synced_version)

        return self._point(link, exchange_entry_id, attached)

    def rekey(self, link: ExchangeSyncIdMapping, exchange_entry_id: str) -> ExchangeSyncIdMapping:
        """The same item under another id (its profile moved to another API): the link and its lookup row follow,
        the change key and the sync state stay."""
        old = link.exchange_entry_id

        def moved(stored: ExchangeSyncIdMapping) -> None:
            stored.exchange_entry_id = exchange_entry_id

        saved = self._point(link, exchange_entry_id, moved)
        if old and old != exchange_entry_id:
            self.lookups.delete_key(link.mailbox_id, lookup_key(old))
        return saved

    def _point(
        self, link: ExchangeSyncIdMapping, exchange_entry_id: str, change: Callable[[ExchangeSyncIdMapping], None]
    ) -> ExchangeSyncIdMapping:
        """``change`` on the link, and the lookup row of ``exchange_entry_id`` naming its record."""
        lookup = ExchangeItemLookup(
            mailbox_id=link.mailbox_id, exchange_entry_id=exchange_entry_id,
            object_id=link.object_id, object_type=link.object_type,
        )  # fmt: skip
        # independent writes, together: a lookup is trusted only when its link names the same item (by_item)
        saved: list[ExchangeSyncIdMapping] = []
        overlap([lambda: saved.append(self.apply(link, change)), lambda: self.lookups.upsert(lookup)])
        return saved[0]

    def apply(
        self, link: ExchangeSyncIdMapping, change: Callable[[ExchangeSyncIdMapping], None]
    ) -> ExchangeSyncIdMapping:
        """``change`` on the link in hand (one write); on a conflict, on a fresh read (the CRM noted a change)."""
        candidate = link.model_copy(deep=True)
        candidate.with_etag(link.etag)
        change(candidate)
        try:
            return self.save(candidate)
        except (ConcurrencyConflict, AlreadyExists):
            return self.links.modify(link.mailbox_id, link_key(link.object_type, link.object_id), change)

    def save(self, link: ExchangeSyncIdMapping) -> ExchangeSyncIdMapping:
        """Compare-and-swap when the link was read; insert-if-absent when it is new."""
        return self.links.update(link) if link.etag is not None else self.links.insert(link)

    def forget(self, link: ExchangeSyncIdMapping) -> None:
        """The record and the item are no longer linked in this mailbox: both rows go."""
        if link.exchange_entry_id:
            self.lookups.delete_key(link.mailbox_id, lookup_key(link.exchange_entry_id))
        self.links.delete(link, if_unchanged=False)

    def detach(self, link: ExchangeSyncIdMapping, synced_version: int) -> ExchangeSyncIdMapping:
        """The item left Exchange but the record stays selected (a meeting canceled in the CRM, R-ACT-9): the link
        keeps the record, without an item, synced at ``synced_version`` so the item is not made again."""
        item_id = link.exchange_entry_id

        def detached(stored: ExchangeSyncIdMapping) -> None:
            stored.exchange_entry_id, stored.change_key, stored.create_started_on = None, None, None
            mark_synced(stored, synced_version)

        saved = self.apply(link, detached)
        if item_id:
            self.lookups.delete_key(link.mailbox_id, lookup_key(item_id))
        return saved
