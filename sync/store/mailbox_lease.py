"""Taking a mailbox's lease without reading its row: one merge, conditional on the ETag a claim ticket holds.

The merge writes only the lease's properties (the incoming lease's state, holder, expiry and attempt time,
or the ACT lease's holder and expiry: :mod:`sync.scheduling.claim_rules`), so it cannot undo anyone's
change: if anything changed the row since the ticket's ETag, Table storage refuses it (412) and the caller
reads the mailbox instead. See :mod:`sync.scheduling.ticket`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import NotFound

MAILBOX_ROW_KEY = "mailbox"  # the RowKey of every mailbox row (schema.MAILBOX_KEYS)


@dataclass(frozen=True)
class Lease:
    lease_id: str
    expires_on: datetime
    taken_on: datetime


class MailboxLeases:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def take_if_unchanged(
        self, mailbox_id: str, etag: str, version: int, lease: Lease, properties: Mapping[str, Any]
    ) -> bool:
        """Take ``lease``, written as ``properties``, if the mailbox row is still at ``etag``; False if it changed.
        NotFound if deleted."""
        entity = {
            **properties,
            "PartitionKey": mailbox_id,
            "RowKey": MAILBOX_ROW_KEY,
            "modified_on": lease.taken_on.astimezone(UTC),
            "version_number": version + 1,
        }
        try:
            self.table.update_entity(
                entity, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except ResourceModifiedError:
            return False
        except ResourceNotFoundError:
            raise NotFound(f"mailbox {mailbox_id} no longer exists") from None
        return True
