"""One mailbox per address (R-PROV-5): two mailboxes must never poll, and track from, the same inbox.

Table ``MailboxAddresses``: PartitionKey = the escaped, case-folded address; RowKey = ``mailbox``; the row names
the mailbox that holds the address. A mailbox claims its address with an insert-if-absent *before* the mailbox (or
its new address) is written, so two requests racing for one address cannot both win.

A claim can outlive what it protected: a crash after the claim and before the mailbox write, or a delete that
did not get to release it. So a claim counts while its mailbox exists with that address, and, for a grace period
after it was made, while its mailbox is still being written (a claim comes before its mailbox, so a young claim
without a mailbox is a write in progress, not a leftover). A stale claim is taken over with an ETag-guarded
update, never by a blind overwrite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import AlreadyExists
from sync.model.fields import normalize_address, utcnow
from sync.model.mailbox import Mailbox
from sync.store.keys import safe_key

ROW_KEY = "mailbox"
CLAIM_GRACE = timedelta(minutes=5)  # far longer than writing a mailbox takes; a leftover blocks its address this long
TAKEOVER_ATTEMPTS = 3  # a stale claim changing under us again and again means a live contender: give up then


class AddressInUse(AlreadyExists):
    """Another mailbox already uses this address."""

    def __init__(self, address: str, holder: Mailbox) -> None:
        super().__init__(
            f"the address {address} is already used by the mailbox {holder.name} ({holder.id}): change or delete "
            "that mailbox's address first"
        )
        self.holder = holder


class MailboxAddresses:
    """Claims and releases addresses for mailboxes."""

    def __init__(
        self,
        table: TableClient,
        find_mailbox: Callable[[str], Mailbox | None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.table = table
        self.find_mailbox = find_mailbox
        self.clock = clock

    def claim(self, address: str, mailbox_id: str) -> None:
        """Make ``mailbox_id`` the holder of ``address``; AddressInUse if a live mailbox holds it already."""
        key = safe_key(normalize_address(address))
        row = {"PartitionKey": key, "RowKey": ROW_KEY, "mailbox_id": mailbox_id, "claimed_on": self.clock()}
        for _ in range(TAKEOVER_ATTEMPTS):
            try:
                self.table.create_entity(row)
                return
            except ResourceExistsError:
                pass
            try:
                current = self.table.get_entity(key, ROW_KEY)
            except ResourceNotFoundError:
                continue  # released meanwhile: claim it again
            holder_id = str(current.get("mailbox_id", ""))
            if holder_id == mailbox_id:
                return
            holder = self.find_mailbox(holder_id)
            if holder is not None and normalize_address(holder.email_address or "") == normalize_address(address):
                raise AddressInUse(address, holder)
            claimed_on = current.get("claimed_on")
            if not isinstance(claimed_on, datetime) or self.clock() - claimed_on < CLAIM_GRACE:
                raise AlreadyExists(
                    f"the address {address} is being given to another mailbox ({holder_id}) right now: try again later"
                )
            try:  # stale: its mailbox is gone or has another address, long after the claim
                self.table.update_entity(
                    row,
                    mode=UpdateMode.REPLACE,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                return
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
        raise AlreadyExists(f"the address {address} is being claimed by another mailbox right now: try again")

    def release(self, address: str | None, mailbox_id: str) -> None:
        """Give ``address`` up, if ``mailbox_id`` holds it (a claim of another mailbox is left alone)."""
        if not address:
            return
        key = safe_key(normalize_address(address))
        try:
            current = self.table.get_entity(key, ROW_KEY)
        except ResourceNotFoundError:
            return
        if current.get("mailbox_id") != mailbox_id:
            return
        # Taken over or released meanwhile: then nothing of ours is left to release.
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self.table.delete_entity(
                key, ROW_KEY, etag=current.metadata["etag"], match_condition=MatchConditions.IfNotModified
            )
