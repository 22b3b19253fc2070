"""What ACT synchronization needs of Exchange, whatever the protocol: changes per folder, and writes.

Items are described in the canonical field dicts of ``sync/act/fields.py``, so the cycle compares and
merges plain values and never sees exchangelib (or Graph) objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from sync.mail.errors import MailAuthenticationError, ServerBusy, TransientMailError
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import EntityType


class ActFolder(StrEnum):
    CALENDAR = "calendar"
    CONTACTS = "contacts"
    TASKS = "tasks"


FOLDER_OF: dict[EntityType, ActFolder] = {
    EntityType.APPOINTMENT: ActFolder.CALENDAR,
    EntityType.CONTACT: ActFolder.CONTACTS,
    EntityType.TASK: ActFolder.TASKS,
}
TYPE_OF: dict[ActFolder, EntityType] = {folder: object_type for object_type, folder in FOLDER_OF.items()}


class ChangeKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class ExchangeItem:
    item_id: str
    change_key: str
    object_type: EntityType
    fields: Mapping[str, object]
    modified_on: datetime
    categories: tuple[str, ...] = ()
    crm_ref: str | None = None  # the record we created it for (an extended property we stamp)
    organizer: str | None = None  # the organizer's address (appointments)


@dataclass(frozen=True)
class OrgStamp:
    """Which organization synchronizes a mailbox's ACT, and when it last did (R-TE-7), as Exchange keeps it."""

    org_id: str
    last_sync_on: datetime | None = None


@dataclass(frozen=True)
class ItemChange:
    kind: ChangeKind
    item_id: str
    item: ExchangeItem | None = None  # None for a delete


@dataclass(frozen=True)
class NewItem:
    """One item to create: what :meth:`ActMailbox.create` takes, for :meth:`ActMailbox.create_many`."""

    object_type: EntityType
    fields: Mapping[str, object]
    crm_ref: str
    send_invitations: bool = False


Created = tuple[str, str] | Exception  # an item's (item id, change key), or why it was not created


@dataclass(frozen=True)
class ChangePage:
    changes: list[ItemChange]
    state: str | None  # the folder's sync state once this page is handled


class ActMailbox(Protocol):
    """One mailbox's calendar, contacts and tasks."""

    @property
    def address(self) -> str: ...

    def pages(self, folder: ActFolder, state: str | None) -> Iterator[ChangePage]:
        """The changes since ``state``, one page at a time (the caller checkpoints each page's state)."""
        ...

    def create(
        self, object_type: EntityType, fields: Mapping[str, object], crm_ref: str, *, send_invitations: bool = False
    ) -> tuple[str, str]:
        """A new item stamped with ``crm_ref``; its (item id, change key). ``send_invitations``: Exchange sends the
        attendees of a new meeting their invitations (``sync/act/invitations.py`` decides, R-ACT-7)."""
        ...

    def create_many(self, items: Sequence[NewItem]) -> list[Created]:
        """Several :meth:`create` calls in as few round trips as the API allows; one answer per item, in order. An
        item's error is its answer (the others are still created); a mailbox's (credentials, throttling) is the
        answer of every item not created yet."""
        ...

    def update(
        self, object_type: EntityType, item_id: str, change_key: str, changes: Mapping[str, object], *,
        send_invitations: bool = False,
    ) -> str:  # fmt: skip
        """Change some fields; the new change key. ``send_invitations``: Exchange sends the attendees the updated
        meeting (and removed attendees a cancellation)."""
        ...

    def delete(self, object_type: EntityType, item_id: str, *, send_cancellations: bool = False) -> None:
        """Delete an item (gone already is done). ``send_cancellations``: Exchange tells the meeting's attendees
        it is canceled (R-ACT-8)."""
        ...

    def get(self, object_type: EntityType, item_id: str) -> ExchangeItem | None:
        """One item as it is now, or None when it is gone."""
        ...

    @property
    def removes_series_as_occurrences(self) -> bool:
        """A deleted series may be reported only as its occurrences' removals, never by the id of its master
        (Graph v1.0's calendarView delta): the cycle then checks its linked appointments with :meth:`gone`."""
        ...

    def gone(self, object_type: EntityType, item_ids: Sequence[str]) -> set[str]:
        """Which of these items no longer exist, in as few round trips as the API allows."""
        ...

    def carries_over(self, state: str | None) -> bool:
        """Whether ``state`` is a folder state another API left (a profile moved from EWS to Graph): the folder's
        links then name their items by that API's ids, for :meth:`own_ids` to find again."""
        ...

    def own_ids(self, object_type: EntityType, item_ids: Sequence[str]) -> dict[str, str]:
        """The items, named by the other API's ids, that this API finds under its own: {theirs: ours}."""
        ...

    def probe(self) -> None:
        """Prove access to the three folders without changing anything (Test & Enable)."""
        ...

    def read_org_stamp(self) -> OrgStamp | None:
        """The organization the mailbox synchronizes with, if any has claimed it (R-TE-7)."""
        ...

    def write_org_stamp(self, stamp: OrgStamp) -> None:
        """Claim the mailbox for ``stamp.org_id``, or refresh its last sync time."""
        ...


@runtime_checkable
class ActConnector(Protocol):
    def open_act(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> ActMailbox: ...


def crm_ref(object_type: EntityType, object_id: str) -> str:
    return f"crm:{int(object_type)}:{object_id}"


def parse_crm_ref(text: str | None) -> tuple[EntityType, str] | None:
    parts = (text or "").split(":", 2)
    if len(parts) != 3 or parts[0] != "crm" or not parts[1].isdigit():
        return None
    try:
        return EntityType(int(parts[1])), parts[2]
    except ValueError:
        return None


def stops_mailbox(exc: Exception) -> bool:
    """The mailbox's error, not the item's: no further request of the cycle can succeed."""
    if isinstance(exc, MailAuthenticationError | ServerBusy):
        return True
    return isinstance(exc, TransientMailError) and exc.code in ("ConnectFailure", "ErrorTimeoutExpired")
