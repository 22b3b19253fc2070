"""A cycle's view of its mailbox's links by Exchange item id, read with one range query per 1,000 links.

A pull that brings many changes (the first after a large push brings back every item the push created)
would otherwise read two rows per change (``ActLinks.by_item``: the lookup, then the link) only to find
its own change key. The index answers that from memory. It is exact for this cycle: only the cycle that
holds the mailbox attaches items to links or forgets them, and it tells the index each time; a CRM write
meanwhile (``note_change``) never changes which item a link holds. What the index holds is used to
recognise our own writes and unlinked items; a change to merge is decided on the link read afresh.
"""

from __future__ import annotations

from sync.model import ExchangeSyncIdMapping
from sync.store.act_links import ActLinks

LOAD_AT = 20  # changes in one page from which reading every link at once costs fewer requests than pairs


class LinkIndex:
    def __init__(self, links: ActLinks, mailbox_id: str) -> None:
        self._links = links
        self._mailbox_id = mailbox_id
        self._by_item: dict[str, ExchangeSyncIdMapping] | None = None

    @property
    def loaded(self) -> bool:
        return self._by_item is not None

    def load(self) -> None:
        rows = self._links.links.query(
            "PartitionKey eq @pk and RowKey ge 'c|' and RowKey lt 'c}'", {"pk": self._mailbox_id}
        )
        self._by_item = {row.exchange_entry_id: row for row in rows if row.exchange_entry_id}

    def get(self, item_id: str) -> ExchangeSyncIdMapping | None:
        """The link holding ``item_id`` as this cycle knows it (the index must be loaded)."""
        assert self._by_item is not None
        return self._by_item.get(item_id)

    def attached(self, link: ExchangeSyncIdMapping) -> None:
        if self._by_item is not None and link.exchange_entry_id:
            self._by_item[link.exchange_entry_id] = link

    def forgotten(self, item_id: str | None) -> None:
        if self._by_item is not None and item_id:
            self._by_item.pop(item_id, None)
