"""Taking a mailbox's lease without reading its row: one merge, conditional on the ETag a claim ticket holds.

The merge writes only the lease's properties (state, holder, expiry, when it was taken), so it cannot
undo anyone's change: if anything changed the row since the ticket's ETag, Table storage refuses it
(412) and the caller reads the mailbox instead. See :mod:`sync.scheduling.ticket`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.errors import NotFound
from sync.model.options import ProcessingState

MAILBOX_ROW_KEY = "mailbox"  # the RowKey of every mailbox row (schema.MAILBOX_KEYS)


@dataclass(frozen=True)
class Lease:
    lease_id: str
    expires_on: datetime
    taken_on: datetime


class MailboxLeases:
    def __init__(self, table: TableClient) -> None:
        self.table = table

    def take_if_unchanged(self, mailbox_id: str, etag: str, version: int, lease: Lease) -> bool:
        """Take ``lease`` if the mailbox row is still at ``etag``; False if it changed. NotFound if deleted."""
        entity = {
            "PartitionKey": mailbox_id,
            "RowKey": MAILBOX_ROW_KEY,
            "processing_state": int(ProcessingState.PROCESSING),
            "host_id": lease.lease_id,
            "lease_expires_on": lease.expires_on.astimezone(UTC),
            "processing_last_attempted_on": lease.taken_on.astimezone(UTC),
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
