"""Messages and folders in Graph's JSON shape, with ``$select`` applied as Graph applies it.

Property names, the ``@odata.etag`` built from the change key and the UTC ``...Z`` timestamps follow the
message and mailFolder resources of Graph v1.0; only what the server stores is rendered.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from tests.graph.api import ApiError
from tests.graph.mime import Address
from tests.graph.state import Folder, Message

ALWAYS = ("@odata.etag", "id")  # returned whatever $select says


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def select_of(query: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(name.strip() for name in query.get("$select", "").split(",") if name.strip())


def message_json(message: Message, select: Sequence[str] = ()) -> dict[str, Any]:
    env = message.envelope
    full: dict[str, Any] = {
        "@odata.etag": f'W/"{message.change_key}"',
        "id": message.id,
        "createdDateTime": iso(message.received),
        "lastModifiedDateTime": iso(message.modified),
        "changeKey": message.change_key,
        "categories": list(message.categories),
        "receivedDateTime": iso(message.received),
        "sentDateTime": iso(env.sent or message.received),
        "internetMessageId": env.internet_message_id,
        "subject": env.subject,
        "parentFolderId": message.folder_id,
        "isRead": message.is_read,
        "isDraft": message.is_draft,
        "from": _recipient(env.sender),
        "sender": _recipient(env.sender),
        "toRecipients": [_recipient(a) for a in env.to],
    }
    return _selected(full, select, "message")


def folder_json(folder: Folder, counts: tuple[int, int, int]) -> dict[str, Any]:
    children, total, unread = counts
    return {
        "id": folder.id,
        "displayName": folder.name,
        "parentFolderId": folder.parent_id,
        "childFolderCount": children,
        "unreadItemCount": unread,
        "totalItemCount": total,
        "isHidden": False,
    }


def _recipient(address: Address | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {"emailAddress": {"name": address.name or address.address, "address": address.address}}


def _selected(full: dict[str, Any], select: Sequence[str], type_name: str) -> dict[str, Any]:
    if not select:
        return full
    for name in select:
        if name not in full:
            raise ApiError(
                400,
                "RequestBroker--ParseUri",
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'.",
            )
    return {key: value for key, value in full.items() if key in ALWAYS or key in select}
