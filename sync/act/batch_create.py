"""The creates of one push chunk, planned while its records are looked at and sent together afterwards.

Crash safety as for one create (``sync/act/cycle.py``): every link of the chunk is written with
``create_started_on`` *before* the items are created, each item carries its record's stamp, and the links
get their items only after. A crash between the two link writes leaves items the next pull attaches by
their stamp; one before the creates leaves links that are still pending, created by the next push.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sync.act.port import NewItem
from sync.model import ExchangeItemLookup, ExchangeSyncIdMapping
from sync.store.act_links import mark_synced


@dataclass(frozen=True)
class PlannedCreate:
    link: ExchangeSyncIdMapping  # as read by the push (then as saved with create_started_on)
    version: int  # the record's version the item is made from
    new: NewItem


def started(link: ExchangeSyncIdMapping, now: datetime) -> ExchangeSyncIdMapping:
    """The link as written before its create."""
    row = link.model_copy(update={"create_started_on": now})
    row.with_etag(link.etag)
    return row


def attached(planned: PlannedCreate, item_id: str, change_key: str) -> list[ExchangeSyncIdMapping | ExchangeItemLookup]:
    """The link holding its new item, synced at the version it was made from, and the item's lookup row."""
    link = planned.link.model_copy(deep=True)
    link.with_etag(planned.link.etag)
    link.exchange_entry_id, link.change_key, link.create_started_on = item_id, change_key, None
    mark_synced(link, planned.version)
    lookup = ExchangeItemLookup(
        mailbox_id=link.mailbox_id, exchange_entry_id=item_id, object_id=link.object_id, object_type=link.object_type
    )
    return [link, lookup]
