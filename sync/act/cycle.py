"""One ACT cycle of one user mailbox: Exchange → CRM first, then CRM → Exchange (spec §2.14).

State machine of a record in a mailbox (its link row, ``store/act_links.py``):

    CRM write ──► pending ──push──► [create_started_on written] ──CreateItem──► linked (item id, change key)
                                                                   └─ crash ─► next pull finds the item by the
                                                                               crm_ref stamped on it: linked
    linked ──CRM write──► pending ──push──► UpdateItem ──► linked (synced version, new change key)
    linked ──Exchange change──► pull ──► conflict policy (sync/act/conflict.py) ──► both sides written
    deleted / no longer selected ──push──► DeleteItem (R-ACT-4, 8) or left unlinked ──► link forgotten
    canceled, cancellations propagated ──push──► DeleteItem (R-ACT-9) ──► linked to no item (not made again)

**Meetings.** Whether a write tells the attendees (invitations, updates, cancellations), and what a past
meeting or a delete may change, is decided by ``sync/act/invitations.py`` (R-ACT-7, 8, 9).

**Crash safety.** For a create, the link is written *before* the remote call (``create_started_on``) and the
item carries ``crm_ref``; the pull of the next cycle runs before any push and attaches such an item to
its record, so a crash between CreateItem and the link write never makes a second item. Every other
write is idempotent (an update re-sent writes the same values; a delete of a missing item is done).

**Pull.** Items not linked become CRM records only when they carry the "Tracked to Dynamics 365" category
(R-ACT-2; never contacts); changes of linked items go through the conflict policy; our own writes come
back with the change key we stored and are skipped. Deletes follow R-ACT-12 (appointments), R-ACT-18
(tasks) and, for contacts, unlink only.

**Errors.** A mail-server error of the mailbox (credentials, outage) stops the cycle; an error of one item
is counted on its link and retried next cycle, up to :data:`MAX_ITEM_RETRIES`, then left until the record
changes again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, partial

from sync.act import batch_create, invitations, link_writes
from sync.act import fields as canonical
from sync.act.conflict import Direction, Side, resolve
from sync.act.filters import ActRecord, matches, rule_for
from sync.act.link_index import LOAD_AT, LinkIndex
from sync.act.port import (
    TYPE_OF,
    ActFolder,
    ActMailbox,
    ChangeKind,
    ExchangeItem,
    ItemChange,
    NewItem,
    crm_ref,
    parse_crm_ref,
)
from sync.act.records import ActRecords
from sync.errors import ConcurrencyConflict, NotFound
from sync.health.alerts import Alerts, mailbox_ref, scheduling_conflict_text
from sync.incoming.marks import TRACKED_CATEGORY
from sync.incoming.resolve import resolve_sender
from sync.mail.errors import MailAuthenticationError, MailServerError, ServerBusy, TransientMailError
from sync.model import Contact, ExchangeSyncIdMapping, Mailbox, OrganizationSettings, SchedulingConflict
from sync.model.act import Appointment, AppointmentState, AppointmentStatus, FilterRule, Task
from sync.model.email import ActivityParty
from sync.model.fields import SYSTEM_USER, EntityRef, normalize_address
from sync.model.mailbox import FolderWatermark
from sync.model.options import EntityType, ParticipationType
from sync.store.act_links import conflict_key, mark_synced
from sync.store.overlap import overlap
from sync.store.store import Store

log = logging.getLogger(__name__)

MAX_ITEM_RETRIES = 5  # R-REC-9 / R-ERR-8: item-level errors are retried in later cycles, then recorded
WATERMARK_PREFIX = "act:"
PUSH_CHUNK = 100  # pending links pushed together: their records read overlapped, their creates batched


@dataclass
class ActReport:
    mailbox_id: str
    pulled: int = 0  # Exchange changes looked at
    created_in_crm: int = 0
    updated_in_crm: int = 0
    deleted_in_crm: int = 0
    created_in_exchange: int = 0
    updated_in_exchange: int = 0
    deleted_in_exchange: int = 0
    conflicts: int = 0
    conflicts_held: int = 0  # tracked appointments waiting for the user's decision (R-ACT-24)
    copies_ignored: int = 0  # copies of linked items, never tracked as new records (R-ACT-19)
    carried_over: int = 0  # links moved to the ids of the profile's new API (EWS to Graph)
    item_errors: int = 0
    changes: int = 0  # what either side wrote: drives the next interval
    errors: list[str] = field(default_factory=list)


class ActCycle:
    def __init__(
        self, store: Store, mailbox: Mailbox, exchange: ActMailbox, *, now: Callable[[], datetime],
        filters: Mapping[EntityType, FilterRule] | None = None,
        save_watermark: Callable[[str, FolderWatermark], None] | None = None,
    ) -> None:  # fmt: skip
        if mailbox.owner is None or mailbox.owner.type is not EntityType.SYSTEM_USER:
            raise ValueError("ACT runs for users' mailboxes only (R-ELIG-6)")
        self.store = store
        self.mailbox = mailbox
        self.user_id = mailbox.owner.id
        self.exchange = exchange
        self.now = now
        self.filters = dict(filters or {})
        self.records = ActRecords(store)
        self.links = store.act_links
        self.index = LinkIndex(self.links, mailbox.id)
        self._addresses: dict[EntityRef, str | None] = {}
        self._unlinked_removals = 0  # in the page being pulled
        self.save_watermark = save_watermark or self._save_watermark
        self.report = ActReport(mailbox.id)

    def run(self) -> ActReport:
        self._decided()
        for folder in ActFolder:
            self._pull(folder)
        self._push()
        return self.report

    # --- Exchange → CRM -----------------------------------------------------------------------------
    def _pull(self, folder: ActFolder) -> None:
        key = f"{WATERMARK_PREFIX}{folder.value}"
        watermark = self.mailbox.watermarks.get(key) or FolderWatermark(folder=key)
        if self.exchange.carries_over(watermark.sync_state):
            self._carry_over(TYPE_OF[folder])
        for page in self.exchange.pages(folder, watermark.sync_state):
            if not self.index.loaded and len(page.changes) >= LOAD_AT:
                self.index.load()
            self._unlinked_removals = 0
            for change in page.changes:
                self.report.pulled += 1
                self._item_guard(partial(self._pulled, change, TYPE_OF[folder]))
            if self._unlinked_removals and folder is ActFolder.CALENDAR and self.exchange.removes_series_as_occurrences:
                self._deleted_series()  # before the checkpoint: the removals are not reported again
            watermark = watermark.model_copy(update={"sync_state": page.state})
            self.save_watermark(key, watermark)

    def _carry_over(self, object_type: EntityType) -> None:
        """The profile moved from EWS to Graph: this folder's links name their items by EWS ids. Those Graph finds
        under its own ids follow them before the full round that comes next, so the round sees linked items, not
        copies (R-ACT-19) nor tracked items to track again. Until the round's first checkpoint a crash repeats
        this, and a link already moved finds its own id again."""
        linked = [link for link in self.links.of_type(self.mailbox.id, object_type) if link.exchange_entry_id]
        own = self.exchange.own_ids(object_type, [link.exchange_entry_id or "" for link in linked]) if linked else {}
        for link in linked:
            old = link.exchange_entry_id or ""
            if own.get(old, old) != old:
                self.index.forgotten(old)
                self.index.attached(self.links.rekey(link, own[old]))
                self.report.carried_over += 1

    def _pulled(self, change: ItemChange, object_type: EntityType) -> None:
        known = self.index.get(change.item_id) if self.index.loaded else None
        if known is not None and change.item is not None and known.change_key == change.item.change_key:
            return  # our own write coming back, recognised without a read
        # not in a loaded index: not linked (it knows every link of the mailbox)
        link = None if self.index.loaded and known is None else self.links.by_item(self.mailbox.id, change.item_id)
        if change.kind is ChangeKind.DELETE:
            if link is not None:
                self._deleted_in_exchange(link)
            else:
                self._unlinked_removals += 1  # perhaps an occurrence of a deleted series: see _deleted_series
            return
        item = change.item
        assert item is not None
        if link is None:
            link = self._our_lost_create(item)
            if link is None:
                if self._copy_of_linked(item):  # R-IN-9, R-ACT-19: a copy is not a second record
                    self.report.copies_ignored += 1
                    return
                if TRACKED_CATEGORY in item.categories and object_type is not EntityType.CONTACT:  # R-ACT-2
                    self._track(item)
                return
        if link.change_key == item.change_key:
            return  # our own write coming back
        record = self._record(link.object_type, link.object_id)
        if record is None:  # the record went while the item stayed: the link has nothing to sync (R-ACT-4)
            self._forget(link)
            return
        self._merge(link, record, item)

    def _deleted_series(self) -> None:
        """Occurrences were removed that no link holds: a linked series may be gone. The linked appointments are
        checked (``gone``, batched); one that is gone is an Exchange delete like any other (R-ACT-12)."""
        linked = [
            link for link in self.links.of_type(self.mailbox.id, EntityType.APPOINTMENT) if link.exchange_entry_id
        ]
        gone = self.exchange.gone(EntityType.APPOINTMENT, [link.exchange_entry_id or "" for link in linked])
        for link in linked:
            if link.exchange_entry_id in gone:
                self.report.pulled += 1
                self._item_guard(partial(self._deleted_in_exchange, link))

    def _our_lost_create(self, item: ExchangeItem) -> ExchangeSyncIdMapping | None:
        """An item we created whose link write was lost (a crash): attach it instead of tracking it anew."""
        ref = parse_crm_ref(item.crm_ref)
        if ref is None:
            return None
        link = self.links.find(self.mailbox.id, *ref)
        if link is None or link.exchange_entry_id not in (None, item.item_id):
            return None
        record = self._record(link.object_type, link.object_id)
        synced = record.version_number if record else None
        attached = self.links.attach(link, item.item_id, item.change_key, synced_version=synced)
        self.index.attached(attached)
        return None if record is None else attached

    def _copy_of_linked(self, item: ExchangeItem) -> bool:
        """The item carries the stamp of a record linked to another item: Outlook copied a linked item."""
        ref = parse_crm_ref(item.crm_ref)
        link = self.links.find(self.mailbox.id, *ref) if ref is not None else None
        return link is not None and link.exchange_entry_id not in (None, item.item_id)

    def _merge(self, link: ExchangeSyncIdMapping, record: ActRecord, item: ExchangeItem) -> None:
        """Both sides may have changed: the conflict policy decides field by field."""
        ours = self._fields(record)
        crm_changed = link.pending and (link.crm_version_synced or 0) < record.version_number
        directions: Mapping[str, Direction] = canonical.DIRECTIONS.get(link.object_type, {})
        ours_on, theirs_on = (t.replace(microsecond=0) for t in (record.modified_on, item.modified_on))  # EWS: seconds
        decided = resolve(Side(ours, ours_on, crm_changed), Side(item.fields, theirs_on, True), directions)
        version = record.version_number
        if decided.to_crm:
            self._apply(record, decided.to_crm)
            if not isinstance(record, Contact):
                record.modified_by = self._author(record)
            version = self.records.update(record).version_number
            self._addresses.pop(EntityRef(type=record.entity_type, id=record.id), None)  # an address may have changed
            self.report.updated_in_crm += 1
        change_key = item.change_key
        to_exchange, invite = decided.to_exchange, False
        if isinstance(record, Appointment):
            meeting = invitations.meeting_of(record, self.user_id)
            to_exchange = self._writable(meeting, to_exchange)
            invite = invitations.invite_on_update(meeting, to_exchange, self.now())
        if to_exchange:
            change_key = self.exchange.update(
                link.object_type, item.item_id, item.change_key, to_exchange, send_invitations=invite
            )
            self.report.updated_in_exchange += 1
        self.report.conflicts += decided.conflict
        self.report.changes += bool(decided.to_crm or to_exchange)
        self._settle(link, version, change_key, decision=decided.summary if decided.conflict else None)

    def _deleted_in_exchange(self, link: ExchangeSyncIdMapping) -> None:
        record = self._record(link.object_type, link.object_id)
        if record is not None and self._exchange_delete_propagates(record):
            self.records.delete(record)
            self.report.deleted_in_crm += 1
            self.report.changes += 1
        self._forget(link)

    def _exchange_delete_propagates(self, record: ActRecord) -> bool:
        """R-ACT-12: not for closed or past appointments, nor when the user is not the organizer; R-ACT-18:
        tasks go; contacts are only unlinked."""
        if isinstance(record, Appointment):
            organizer = record.organizer
            organizes = organizer is not None and organizer.party is not None and organizer.party.id == self.user_id
            is_open = record.state in (AppointmentState.OPEN, AppointmentState.SCHEDULED)
            return organizes and is_open and record.scheduled_start > self.now()
        return isinstance(record, Task)

    def _decided(self) -> None:
        """Scheduling conflicts the user answered: save anyway now (R-ACT-24: "created on the next cycle"), or drop."""
        for conflict in list(self.links.decided_conflicts(self.mailbox.id)):
            if conflict.decision:
                item = self.exchange.get(EntityType.APPOINTMENT, conflict.exchange_entry_id)
                if item is not None and self.links.by_item(self.mailbox.id, item.item_id) is None:
                    self._item_guard(partial(self._track, item, check_conflicts=False))
            self.links.conflicts.delete(conflict, if_unchanged=False)

    def _conflicts_with(self, item: ExchangeItem) -> Appointment | None:
        """R-ACT-11: one of the user's busy appointments the new one overlaps (the booking check)."""
        start, end = item.fields.get("start"), item.fields.get("end")
        if not isinstance(start, datetime) or not isinstance(end, datetime):
            return None
        for link in self.links.of_type(self.mailbox.id, EntityType.APPOINTMENT):
            other = self.store.appointments.find(link.object_id, "record")
            busy = other is not None and other.status not in (AppointmentStatus.FREE, AppointmentStatus.CANCELED)
            if busy and other is not None and other.scheduled_start < end and start < other.scheduled_end:
                return other
        return None

    def _hold(self, item: ExchangeItem, other: Appointment) -> None:
        """Not saved: the user is asked (R-ACT-24); the alert names the appointment it overlaps."""
        if self.links.conflicts.find(self.mailbox.id, conflict_key(item.item_id)) is not None:
            return  # asked already
        subject = str(item.fields.get("subject") or "")
        start, end = item.fields.get("start"), item.fields.get("end")
        self.links.conflicts.upsert(
            SchedulingConflict(
                mailbox_id=self.mailbox.id, exchange_entry_id=item.item_id, subject=subject[:2048],
                start=start if isinstance(start, datetime) else None, end=end if isinstance(end, datetime) else None,
            )
        )  # fmt: skip
        user = self.store.find_record(EntityType.SYSTEM_USER, self.user_id)
        text = scheduling_conflict_text(
            subject, user.display_name if user else self.user_id, f"overlaps {other.subject}"
        )
        Alerts(self.store).raise_alert(
            self.store.get_organization(), text, mailbox_ref(self.mailbox), mailbox_id=self.mailbox.id
        )
        self.report.conflicts_held += 1

    def _track(self, item: ExchangeItem, *, check_conflicts: bool = True) -> None:
        """An Exchange item the user tracked with the category: a new CRM record, linked (R-ACT-2)."""
        if check_conflicts and item.object_type is EntityType.APPOINTMENT:
            other = self._conflicts_with(item)
            if other is not None:
                self._hold(item, other)
                return
        record: ActRecord
        if item.object_type is EntityType.APPOINTMENT:
            record = canonical.new_appointment(item.fields, self.user_id, self._organizer(item), self._resolve)
        else:
            record = canonical.new_task(item.fields, self.user_id, self.now())
        record.created_by = record.modified_by = self._author(record)
        created = self.records.create(record)
        link = self.links.find(self.mailbox.id, created.entity_type, created.id) or ExchangeSyncIdMapping(
            mailbox_id=self.mailbox.id, object_id=created.id, object_type=created.entity_type
        )
        self.index.attached(
            self.links.attach(link, item.item_id, item.change_key, synced_version=created.version_number)
        )
        self.report.created_in_crm += 1
        self.report.changes += 1

    # --- CRM → Exchange -----------------------------------------------------------------------------
    def _push(self) -> None:
        due = [
            link
            for link in self.links.pending(self.mailbox.id)
            if not (link.retries >= MAX_ITEM_RETRIES and link.crm_version == link.failed_version)
        ]  # one failed too often at its version is left until the record changes again
        for start in range(0, len(due), PUSH_CHUNK):
            self._push_chunk(due[start : start + PUSH_CHUNK])

    def _push_chunk(self, links: list[ExchangeSyncIdMapping]) -> None:
        """Records read with their reads overlapped; updates and deletes one by one; creates together."""
        records = overlap([partial(self._read_for_push, link) for link in links])
        creates: list[batch_create.PlannedCreate] = []
        for link, record in zip(links, records, strict=True):
            self._item_guard(partial(self._pushed, link, record, creates), link=link)
        self._create_all(creates)

    def _read_for_push(self, link: ExchangeSyncIdMapping) -> ActRecord | Exception | None:
        """The record of a pending link (None when gone); a failure is kept for that item's guard."""
        if link.deleted_in_crm:
            return None
        try:
            return self._record(link.object_type, link.object_id)
        except Exception as exc:  # raised again inside the item's guard, as if read there
            return exc

    def _pushed(
        self, link: ExchangeSyncIdMapping, read: ActRecord | Exception | None, creates: list[batch_create.PlannedCreate]
    ) -> None:
        if isinstance(read, Exception):
            raise read
        record = read
        if record is None or not matches(rule_for(link.object_type, self.filters), record, self.user_id):
            self._remove_from_exchange(link, record)
            return
        if link.exchange_entry_id is not None and link.crm_version_synced == record.version_number:
            self._settle(link, record.version_number, link.change_key or "")  # re-checked (a new filter): as it was
            return
        meeting = invitations.meeting_of(record, self.user_id) if isinstance(record, Appointment) else None
        canceled = (
            meeting is not None
            and meeting.canceled
            and invitations.cancel_propagates(
                meeting, self.now(), propagate_cancellations=self._org.propagate_appointment_cancellations_to_exchange
            )
        )
        if canceled:  # R-ACT-9: a cancel leaves the organizer's mailbox like a delete, and stays out
            self._cancel_in_exchange(link, record.version_number, canceled)
            return
        values = self._fields(record)
        if link.exchange_entry_id is None:
            new = NewItem(
                link.object_type, values, crm_ref(link.object_type, link.object_id),
                send_invitations=meeting is not None and invitations.invite_on_create(meeting, self.now()),
            )  # fmt: skip
            creates.append(batch_create.PlannedCreate(link, record.version_number, new))
            return  # created with the others of its chunk: _create_all
        else:
            directions = canonical.DIRECTIONS.get(link.object_type, {})
            outgoing = {k: v for k, v in values.items() if directions.get(k, Direction.BOTH) is not Direction.TO_CRM}
            invite = False
            if meeting is not None:
                outgoing = self._writable(meeting, outgoing)
                invite = self._sensitive_change(meeting, link.exchange_entry_id, outgoing)
            change_key = self.exchange.update(
                link.object_type, link.exchange_entry_id, link.change_key or "", outgoing, send_invitations=invite
            )
            self._settle(link, record.version_number, change_key)
            self.report.updated_in_exchange += 1
        self.report.changes += 1

    def _create_all(self, creates: list[batch_create.PlannedCreate]) -> None:
        """The chunk's links marked started (one transaction), its items created (``create_many``), then the links
        attached (one transaction per 50). A conflict (the CRM noted a change meanwhile) writes that step's rows one
        at a time; the items created are linked before any item's error is raised."""
        if not creates:
            return
        ready = self._mark_started(creates)
        if not ready:
            return
        answers = self.exchange.create_many([planned.new for planned in ready])
        made = [(p, a) for p, a in zip(ready, answers, strict=True) if not isinstance(a, Exception)]
        rows = [row for planned, (item_id, key) in made for row in batch_create.attached(planned, item_id, key)]
        try:
            link_writes.write_rows(self.links.table, rows)
        except ConcurrencyConflict:
            for planned, (item_id, key) in made:
                self._item_guard(partial(self._attach_one, planned, item_id, key), link=planned.link)
        self.report.created_in_exchange += len(made)
        self.report.changes += len(made)
        for planned, answer in zip(ready, answers, strict=True):
            if isinstance(answer, Exception):
                self._item_guard(partial(_raise, answer), link=planned.link)

    def _attach_one(self, planned: batch_create.PlannedCreate, item_id: str, change_key: str) -> None:
        self.links.attach(planned.link, item_id, change_key, synced_version=planned.version)

    def _mark_started(self, creates: list[batch_create.PlannedCreate]) -> list[batch_create.PlannedCreate]:
        """Every link written with ``create_started_on`` before its create (see the module docstring)."""
        now = self.now()
        rows = [batch_create.started(planned.link, now) for planned in creates]
        try:
            link_writes.write_rows(self.links.table, rows)
            return [replace(planned, link=row) for planned, row in zip(creates, rows, strict=True)]
        except ConcurrencyConflict:
            ready: list[batch_create.PlannedCreate] = []
            for planned in creates:

                def start(planned: batch_create.PlannedCreate = planned) -> None:
                    saved = self.links.save(batch_create.started(planned.link, now))
                    ready.append(replace(planned, link=saved))

                self._item_guard(start, link=planned.link)
            return ready

    def _writable(self, meeting: invitations.Meeting, changes: Mapping[str, object]) -> dict[str, object]:
        """R-ACT-9: a past meeting keeps its sensitive properties unless the organization says otherwise."""
        if not invitations.is_past_meeting(meeting, self.now()):
            return dict(changes)
        return invitations.writable_changes(
            meeting, changes, self.now(), update_past_meetings=self._org.update_past_meetings_in_exchange
        )

    def _sensitive_change(self, meeting: invitations.Meeting, item_id: str, outgoing: Mapping[str, object]) -> bool:
        """R-ACT-7: updates go out when a sensitive property differs from the item. The item is read only for a
        meeting that could get them (the user's, to come, with attendees, open): the rest never costs a call."""
        if not invitations.invite_on_update(meeting, invitations.SENSITIVE, self.now()):
            return False
        item = self.exchange.get(EntityType.APPOINTMENT, item_id)
        changed = [name for name, value in outgoing.items() if item is None or item.fields.get(name) != value]
        return invitations.invite_on_update(meeting, changed, self.now())

    def _cancel_in_exchange(self, link: ExchangeSyncIdMapping, version: int, how: invitations.Removal) -> None:
        """R-ACT-9: the canceled meeting is deleted from its organizer's mailbox (cancellations to its attendees);
        the link stays, without an item, so the next write of the record does not make it again."""
        if link.exchange_entry_id is not None:
            self.exchange.delete(
                link.object_type, link.exchange_entry_id, send_cancellations=how is invitations.Removal.CANCEL
            )
            self.report.deleted_in_exchange += 1
            self.report.changes += 1
        self.links.detach(link, version)

    def _remove_from_exchange(self, link: ExchangeSyncIdMapping, record: ActRecord | None) -> None:
        """R-ACT-4 and R-ACT-8: a deleted or no longer selected contact or task leaves the mailbox's Exchange; an
        appointment only when it was deleted in the CRM, the user organized it and it was still to come, with
        cancellations to its attendees. Otherwise the item stays, unlinked."""
        how = self._removal(link, record)
        if link.exchange_entry_id is not None and how is not invitations.Removal.UNLINK:
            self.exchange.delete(
                link.object_type, link.exchange_entry_id, send_cancellations=how is invitations.Removal.CANCEL
            )
            self.report.deleted_in_exchange += 1
            self.report.changes += 1
        self._forget(link)

    def _removal(self, link: ExchangeSyncIdMapping, record: ActRecord | None) -> invitations.Removal:
        if link.object_type is not EntityType.APPOINTMENT:
            return invitations.Removal.DELETE  # contacts and tasks
        if isinstance(record, Appointment):  # a logical delete: the filter no longer selects it
            return invitations.removal(invitations.meeting_of(record, self.user_id), self.now(), physical=False)
        meeting = None  # gone without a word (not through the CRM's writes): nothing to decide with, so it stays
        if link.deleted_organized is not None and link.deleted_last_start is not None:
            meeting = invitations.Meeting(
                link.deleted_organized, link.deleted_last_start, bool(link.deleted_with_attendees)
            )
        return invitations.removal(meeting, self.now(), physical=True)

    # --- helpers ------------------------------------------------------------------------------------
    def _item_guard(self, step: Callable[[], None], *, link: ExchangeSyncIdMapping | None = None) -> None:
        """One item's failure is recorded on its link and retried next cycle; the mailbox's stops the cycle."""
        try:
            step()
        except (MailAuthenticationError, ServerBusy):
            raise
        except TransientMailError as exc:
            if exc.code in ("ConnectFailure", "ErrorTimeoutExpired"):
                raise  # the server, not the item
            self._item_failed(link, exc)
        except (MailServerError, ConcurrencyConflict, NotFound, ValueError) as exc:
            self._item_failed(link, exc)

    def _item_failed(self, link: ExchangeSyncIdMapping | None, exc: Exception) -> None:
        self.report.item_errors += 1
        self.report.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        log.warning("mailbox %s: ACT item failed: %s", self.mailbox.id, exc)
        if link is None:
            return

        def count(stored: ExchangeSyncIdMapping) -> None:
            stored.retries += 1
            stored.last_sync_error = f"{type(exc).__name__}: {exc}"[:2048]
            stored.failed_version = stored.crm_version
            stored.last_sync_error_occurred_on = self.now()

        with contextlib.suppress(NotFound):  # the link went meanwhile: nothing to count on
            self.links.links.modify(link.mailbox_id, self._key(link), count)

    def _settle(
        self, link: ExchangeSyncIdMapping, version: int | None, change_key: str, *, decision: str | None = None
    ) -> None:
        """Exchange has ``version`` of the record: clear ``pending`` unless the CRM moved on meanwhile."""

        def settled(stored: ExchangeSyncIdMapping) -> None:
            stored.change_key = change_key
            if version is not None:
                mark_synced(stored, version)
            if decision is not None:
                stored.last_decision = decision[:2048]

        self.links.apply(link, settled)

    def _forget(self, link: ExchangeSyncIdMapping) -> None:
        self.links.forget(link)
        self.index.forgotten(link.exchange_entry_id)

    @staticmethod
    def _key(link: ExchangeSyncIdMapping) -> str:
        return f"c|{int(link.object_type)}|{link.object_id}"

    @cached_property
    def _org(self) -> OrganizationSettings:
        """The organization's settings, read once a cycle and only when an appointment needs them (R-ACT-9)."""
        return self.store.get_organization()

    def _record(self, object_type: EntityType, object_id: str) -> ActRecord | None:
        if object_type is EntityType.APPOINTMENT:
            return self.store.appointments.find(object_id, "record")
        if object_type is EntityType.TASK:
            return self.store.tasks.find(object_id, "record")
        found = self.store.contacts.find(object_id, "record")
        return found if isinstance(found, Contact) else None

    def _fields(self, record: ActRecord) -> dict[str, object]:
        if isinstance(record, Appointment):
            return canonical.appointment_fields(record, self._address, self.now())
        if isinstance(record, Task):
            return canonical.task_fields(record, self.now())
        return canonical.contact_fields(record)

    def _apply(self, record: ActRecord, changes: Mapping[str, object]) -> None:
        if isinstance(record, Appointment):
            canonical.apply_appointment(record, changes, self._resolve)
        elif isinstance(record, Task):
            canonical.apply_task(record, changes, self.now())
        else:
            canonical.apply_contact(record, changes)

    def _address(self, ref: EntityRef) -> str | None:
        """A party's address, read once a cycle (the organizer and regular attendees recur in every meeting)."""
        if ref not in self._addresses:
            found = self.store.find_record(ref.type, ref.id)
            columns = found.email_columns().values() if found is not None else ()
            self._addresses[ref] = next((address for address in columns if address), None)
        return self._addresses[ref]

    def _organizer(self, item: ExchangeItem) -> ActivityParty:
        """The Exchange organizer (R-ACT-13): an attendee tracking a meeting is not its organizer (R-ACT-20). An
        item without one is organized by the tracking user, as UseCrmOrganizerForEmptyExchangeOrganizer does."""
        address = (item.organizer or "").strip()
        if not address or self._resolve(address) == self._me:
            return ActivityParty(participation=ParticipationType.ORGANIZER, party=self._me)
        return ActivityParty(
            participation=ParticipationType.ORGANIZER, party=self._resolve(address), address_used=address[:320]
        )

    def _author(self, record: Appointment | Task) -> EntityRef:
        """R-REC-12: tasks as the mailbox's user; appointments as the organizer when the user organizes, else SYSTEM."""
        if isinstance(record, Task):
            return self._me
        organizer = record.organizer
        return self._me if organizer is not None and organizer.party == self._me else SYSTEM_USER

    @property
    def _me(self) -> EntityRef:
        return EntityRef(type=EntityType.SYSTEM_USER, id=self.user_id)

    def _resolve(self, address: str) -> EntityRef | None:
        """The record an address stands for, chosen as an email's sender is (R-RES-12: a record the user owns,
        active before inactive, user, contact, account, lead, queue; never a disabled user); the mailbox's own
        Exchange address is its user (R-ACT-20)."""
        if self.mailbox.email_address and normalize_address(address) == normalize_address(self.mailbox.email_address):
            return self._me
        matches_ = self.store.address_index.lookup(address)
        return resolve_sender(address, "", matches_, self._org, self.user_id).party.party if matches_ else None

    def _save_watermark(self, key: str, watermark: FolderWatermark) -> None:
        def save(m: Mailbox) -> None:
            m.watermarks = {**m.watermarks, key: watermark}

        self.mailbox = self.store.mailboxes.modify(self.mailbox.id, "mailbox", save)


def _raise(exc: Exception) -> None:
    raise exc
