"""R-TE-7's claim through Graph: the same two extended properties EWS writes on the mailbox's Calendar folder.

Graph reads a folder's single-value extended properties with ``$expand`` and writes them with a PATCH of
the calendar, so a mailbox claimed through EWS (``sync/mail/ews/org_stamp.py``) reads as claimed through
Graph, and the other way round: a profile can move from one API to the other without losing the claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sync.act.port import OrgStamp
from sync.mail.ews.org_stamp import PROPERTY_SET

ORG_ID = f"String {{{PROPERTY_SET}}} Name ActSyncOrganizationId"
LAST_SYNC_ON = f"String {{{PROPERTY_SET}}} Name ActLastSyncOn"
EXPAND = {"$expand": f"singleValueExtendedProperties($filter=id eq '{ORG_ID}' or id eq '{LAST_SYNC_ON}')"}


def read_stamp(calendar: Mapping[str, Any]) -> OrgStamp | None:
    """The claim in a calendar read with :data:`EXPAND`."""
    values = {str(p.get("id", "")).lower(): p.get("value") for p in calendar.get("singleValueExtendedProperties") or []}
    org_id = values.get(ORG_ID.lower())
    if not org_id:
        return None
    return OrgStamp(str(org_id), _parse(values.get(LAST_SYNC_ON.lower())))


def stamp_body(stamp: OrgStamp) -> dict[str, Any]:
    last = stamp.last_sync_on.isoformat() if stamp.last_sync_on else ""
    return {
        "singleValueExtendedProperties": [{"id": ORG_ID, "value": stamp.org_id}, {"id": LAST_SYNC_ON, "value": last}]
    }


def _parse(text: object) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None  # unreadable: treated as stale, so the next check rewrites it
    return parsed.astimezone(UTC) if parsed else None
