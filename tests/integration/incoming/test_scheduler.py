"""The scheduler tick against real Azurite: due index, leases, fan-out, cost per due mailbox."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, EntityType, ProcessingState, ServerType
from sync.scheduling.scheduler import Scheduler, TickReport, schedule_now
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store import Store
from sync.store.due_index import row_key

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def profile(isolated_store: Store) -> EmailServerProfile:
    return isolated_store.profiles.insert(EmailServerProfile(name="IMAP", server_type=ServerType.IMAP_SMTP))


def _mailbox(
    store: Store, profile: EmailServerProfile, *, approved: bool = True, schedule_at: datetime | None
) -> Mailbox:
    owner = EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4()))
    mailbox = store.mailboxes.insert(
        Mailbox(
            name="m",
            email_address=f"{uuid.uuid4().hex[:8]}@example.test",
            owner=owner,
            email_server_profile_id=profile.id,
            approval=EmailAddressApproval.APPROVED if approved else EmailAddressApproval.PENDING_APPROVAL,
        )
    )
    if schedule_at is not None:
        mailbox = schedule_now(store, mailbox.id, schedule_at)
    return mailbox


def _tick(store: Store, settings: Settings, clock: Clock) -> tuple[TickReport, list[WorkItem]]:
    sent: list[WorkItem] = []
    report = Scheduler(store, settings, sent.append, clock).tick()
    return report, sent


def _drain(store: Store, settings: Settings) -> None:
    """Run ticks far in the future until nothing is due, so each test starts from an empty schedule."""
    clock = Clock(utcnow() + timedelta(days=3650))
    for mailbox in store.mailboxes.query():
        store.due_index.remove(mailbox.id, mailbox.due_row_key)
    assert _tick(store, settings, clock)[0].due == 0


def test_due_mailboxes_are_claimed_and_fanned_out(
    isolated_store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    _drain(isolated_store, settings)
    now = utcnow()
    due = [_mailbox(isolated_store, profile, schedule_at=now - timedelta(minutes=1)) for _ in range(5)]
    later = [_mailbox(isolated_store, profile, schedule_at=now + timedelta(hours=1)) for _ in range(3)]
    report, sent = _tick(isolated_store, settings, Clock(now))
    assert report.dispatched == 5 and report.due == 5
    assert {w.mailbox_id for w in sent} == {m.id for m in due}
    for item in sent:
        claimed = isolated_store.get_mailbox(item.mailbox_id)
        assert claimed.processing_state is ProcessingState.PROCESSING
        assert claimed.host_id == item.lease_id
        assert claimed.lease_expires_on == now + timedelta(seconds=settings.lease_seconds)
    assert all(isolated_store.get_mailbox(m.id).processing_state is ProcessingState.IDLE for m in later)
    again, sent = _tick(isolated_store, settings, Clock(now))  # the rows stay until the workers move them
    assert (again.busy, again.dispatched, sent) == (5, 0, [])  # nothing claimed twice


def test_a_held_lease_is_respected_and_an_expired_one_broken(
    isolated_store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    _drain(isolated_store, settings)
    now = utcnow()
    mailbox = _mailbox(isolated_store, profile, schedule_at=now)
    _, sent = _tick(isolated_store, settings, Clock(now))
    assert len(sent) == 1
    soon = Clock(now + timedelta(minutes=3))  # the predicted due time (2 min) passed; the lease still holds
    report, sent = _tick(isolated_store, settings, soon)
    assert (report.busy, sent) == (1, [])
    late = Clock(now + timedelta(seconds=settings.lease_seconds + 1))
    report, sent = _tick(isolated_store, settings, late)
    assert report.leases_broken == 1 and len(sent) == 1
    assert isolated_store.get_mailbox(mailbox.id).forced_unlock_count == 1


def test_ineligible_mailboxes_leave_the_schedule(
    isolated_store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    _drain(isolated_store, settings)
    now = utcnow()
    mailbox = _mailbox(isolated_store, profile, approved=False, schedule_at=now)
    report, sent = _tick(isolated_store, settings, Clock(now))
    assert (report.unscheduled, sent) == (1, [])
    stored = isolated_store.get_mailbox(mailbox.id)
    assert stored.due_row_key is None and not stored.enabled_for_incoming
    assert list(isolated_store.due_index.due(now + timedelta(days=1))) == []
    (alert,) = list(isolated_store.alerts.partition(mailbox.id))
    assert "is not approved and the mailbox has been disabled" in alert.text


def test_postponed_mailboxes_move_to_their_postpone_time(
    isolated_store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    _drain(isolated_store, settings)
    now = utcnow().replace(microsecond=0)
    mailbox = _mailbox(isolated_store, profile, schedule_at=now)
    stored = isolated_store.get_mailbox(mailbox.id)
    stored.receiving_postponed_until = now + timedelta(minutes=5)
    isolated_store.mailboxes.update(stored)
    report, sent = _tick(isolated_store, settings, Clock(now))
    assert (report.postponed, sent) == (1, [])
    entries = list(isolated_store.due_index.due(now + timedelta(minutes=6)))
    assert [(e.mailbox_id, e.due_on) for e in entries] == [(mailbox.id, now + timedelta(minutes=5))]


def test_a_stale_row_is_dropped_and_a_lost_row_restored(
    isolated_store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    """Crash between the mailbox write and the due-row move: the old row remains, the new one is missing."""
    _drain(isolated_store, settings)
    now = utcnow()
    mailbox = _mailbox(isolated_store, profile, schedule_at=now - timedelta(minutes=2))
    stored = isolated_store.get_mailbox(mailbox.id)
    stored.due_row_key = row_key(mailbox.id, now + timedelta(minutes=30))  # written, but its row never was
    isolated_store.mailboxes.update(stored)
    report, _ = _tick(isolated_store, settings, Clock(now))
    assert report.stale_rows == 1
    entries = list(isolated_store.due_index.due(now + timedelta(hours=1)))
    assert [e.row_key for e in entries] == [stored.due_row_key]


def test_a_claim_by_reading_costs_two_table_requests_per_due_mailbox(
    isolated_store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    """Rows without a claim ticket (put there by schedule_now): read the mailbox, take the lease by ETag; the
    due rows move in one transaction per shard, however many are due in it."""
    _drain(isolated_store, settings)
    now = utcnow()
    due = [_mailbox(isolated_store, profile, schedule_at=now - timedelta(seconds=30)) for _ in range(10)]
    for _ in range(20):
        _mailbox(isolated_store, profile, schedule_at=now + timedelta(hours=2))
    counter = isolated_store.account.counter
    before = counter.total("table")
    report, sent = _tick(isolated_store, settings, Clock(now))
    used = counter.total("table") - before
    assert report.dispatched == 10 and len(sent) == 10 and report.by_ticket == 0
    shards = len({isolated_store.due_index.shard(m.id) for m in due})
    fixed = 16 + shards * 3  # one due query per shard; per shard with due rows: organization, profile, moves
    assert used - fixed <= 2 * 10
