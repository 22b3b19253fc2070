"""R-TE-7's claim in Exchange: two extended properties of our own on the mailbox's Calendar folder.

Exchange keeps the id of the organization that synchronizes the mailbox's appointments, contacts and tasks and
that organization's last sync time. They are read with GetFolder (IdOnly plus the two properties) and written
with UpdateFolder; the Calendar folder is always there and the user never sees folder properties.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from exchangelib.extended_properties import ExtendedProperty
from exchangelib.fields import FieldPath
from exchangelib.folders import Calendar, Folder
from exchangelib.items import ID_ONLY
from exchangelib.services import GetFolder, UpdateFolder

from sync.act.port import OrgStamp
from sync.mail.ews.session import EwsSession

PROPERTY_SET = "5b0f6a1e-3c2d-4e8f-9a7b-61d4c2e8f0a3"  # ours: no other application writes these names in it
ORG_ID = "act_sync_org_id"
LAST_SYNC_ON = "act_last_sync_on"


class ActSyncOrgId(ExtendedProperty):  # type: ignore[misc]
    property_set_id = PROPERTY_SET
    property_name = "ActSyncOrganizationId"
    property_type = "String"


class ActLastSyncOn(ExtendedProperty):  # type: ignore[misc]
    property_set_id = PROPERTY_SET
    property_name = "ActLastSyncOn"
    property_type = "String"  # ISO 8601 UTC: readable by an administrator looking at the folder


_registered = threading.Lock()


def register_properties() -> None:
    """exchangelib learns folder extended properties on its Folder class, once per process."""
    with _registered:
        names = {f.name for f in Folder.FIELDS}
        for name, cls in ((ORG_ID, ActSyncOrgId), (LAST_SYNC_ON, ActLastSyncOn)):
            if name not in names:
                Folder.register(name, cls)


def _get(session: EwsSession, names: tuple[str, ...]) -> Calendar:
    """The Calendar folder as Exchange has it now (a fresh change key), with the properties ``names``; exchangelib's
    cached ``account.calendar`` only names it."""
    fields = [FieldPath(field=Folder.get_field_by_fieldname(name)) for name in names]

    def get() -> Calendar:
        [found] = GetFolder(account=session.account).call(
            folders=[session.account.calendar], additional_fields=fields, shape=ID_ONLY
        )
        if isinstance(found, Exception):
            raise found
        return found

    return session.call(get, "GetFolder")


def read_stamp(session: EwsSession) -> OrgStamp | None:
    register_properties()
    folder = _get(session, (ORG_ID, LAST_SYNC_ON))
    org_id = getattr(folder, ORG_ID, None)
    if not org_id:
        return None
    return OrgStamp(str(org_id), _parse(getattr(folder, LAST_SYNC_ON, None)))


def write_stamp(session: EwsSession, stamp: OrgStamp) -> None:
    register_properties()
    calendar = _get(session, ())
    setattr(calendar, ORG_ID, stamp.org_id)
    setattr(calendar, LAST_SYNC_ON, stamp.last_sync_on.isoformat() if stamp.last_sync_on else None)

    def update() -> None:
        for result in UpdateFolder(account=session.account).call(folders=[(calendar, [ORG_ID, LAST_SYNC_ON])]):
            if isinstance(result, Exception):
                raise result

    session.call(update, "UpdateFolder")


def _parse(text: object) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None  # unreadable: treated as stale, so the next check rewrites it
    return parsed.astimezone(UTC) if parsed else None
