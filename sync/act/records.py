"""Writing appointments, contacts and tasks in the CRM so that ACT synchronization notices (R-ACT-1, R-ACT-4).

Every write notes the change in the link row of each interested user's mailbox (``store/act_links.py``):
the users the record concerns after the write, and those it concerned before (a user removed from the
attendees, a new owner), since for them it may now be a logical delete. The next ACT cycle of each of
those mailboxes decides, with the user's filters, what to create, update or delete in Exchange.
"""

from __future__ import annotations

from typing import cast

from sync.act.filters import ActRecord, interested_users
from sync.act.invitations import meeting_of
from sync.crm.records import RecordService
from sync.model import Contact
from sync.model.act import Appointment, Task
from sync.model.fields import EntityRef
from sync.model.options import EntityType
from sync.store.act_links import DeletedMeeting
from sync.store.repository import Repository
from sync.store.schema import owned_mailbox_id
from sync.store.store import Store


class ActRecords:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, record: ActRecord) -> ActRecord:
        if isinstance(record, Contact):  # contacts keep the address index current
            created: ActRecord = RecordService(self.store).create(record)
        else:
            created = self._repo(record).insert(record)
        self._note(created, interested_users(created))
        return created

    def update(self, record: ActRecord) -> ActRecord:
        """Write ``record`` (as read, with its ETag: a concurrent edit raises ConcurrencyConflict)."""
        before = self._repo(record).get(record.id, "record")
        if isinstance(record, Contact):
            saved: ActRecord = RecordService(self.store).update(record)
        else:
            saved = self._repo(record).update(record)
        self._note(saved, interested_users(saved) | interested_users(before))
        return saved

    def delete(self, record: ActRecord) -> None:
        if isinstance(record, Contact):
            RecordService(self.store).delete(record)
        else:
            self._repo(record).delete(record, if_unchanged=False)
        self._note(record, interested_users(record), deleted=True)

    def _note(self, record: ActRecord, users: set[str], *, deleted: bool = False) -> None:
        for user_id in sorted(users):
            mailbox_id = owned_mailbox_id(EntityRef(type=EntityType.SYSTEM_USER, id=user_id))
            meeting = None
            if deleted and isinstance(record, Appointment):  # R-ACT-8 decides with it once the record is gone
                seen = meeting_of(record, user_id)
                meeting = DeletedMeeting(seen.organized, seen.last_start, seen.has_attendees)
            self.store.act_links.note_change(
                mailbox_id, record.entity_type, record.id, record.version_number, deleted=deleted, meeting=meeting
            )

    def _repo(self, record: ActRecord) -> Repository[ActRecord]:
        if isinstance(record, Appointment):
            return cast(Repository[ActRecord], self.store.appointments)
        if isinstance(record, Task):
            return cast(Repository[ActRecord], self.store.tasks)
        return cast(Repository[ActRecord], self.store.contacts)
