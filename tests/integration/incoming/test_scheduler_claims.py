"""Claiming at scale against real Azurite: claim tickets, batched moves and messages, pages handed on, and
several claimers on the same due rows at once (each mailbox claimed exactly once, none lost)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ServiceResponseError

from devstack.azurite import Azurite
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import EntityRef, utcnow
from sync.model.options import (
    EmailAddressApproval,
    EmailConnectionChannel,
    EntityType,
    ProcessingState,
    ServerType,
    StateCode,
)
from sync.scheduling import claimer as claimer_module
from sync.scheduling import ticket
from sync.scheduling.scheduler import Scheduler, TickReport
from sync.scheduling.work import WorkBatch, parse_work
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from sync.store.due_index import row_key
from sync.store.mailbox_lease import Lease, MailboxLeases
from sync.store.names import Queue
from tests.integration.scheduling.claims import Sent, claim_all_at_once, own_tables

pytestmark = pytest.mark.integration


@pytest.fixture
def store(azurite: Azurite, settings: Settings) -> Store:
    return own_tables(settings, "c")


@pytest.fixture
def profile(store: Store) -> EmailServerProfile:
    return store.profiles.insert(EmailServerProfile(name="IMAP", server_type=ServerType.IMAP_SMTP))


def _scheduler(store: Store, settings: Settings, sent: Sent, now: datetime, *, queue: bool = True) -> Scheduler:
    return Scheduler(store, settings, sent.item, lambda: now, send_batch=sent.batch,
                     send_shard=sent.shard if queue else None)  # fmt: skip


def _due_mailbox(store: Store, profile: EmailServerProfile, due: datetime, *, with_ticket: bool) -> Mailbox:
    """A mailbox on the schedule as a worker leaves it after a cycle: its due row with (or without) a ticket."""
    mailbox_id = str(uuid.uuid4())
    mailbox = store.mailboxes.insert(Mailbox(
        id=mailbox_id, name="m", email_address=f"{mailbox_id[:10]}@example.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())), email_server_profile_id=profile.id,
        approval=EmailAddressApproval.APPROVED, due_row_key=row_key(mailbox_id, due),
    ))  # fmt: skip
    issued = ticket.issue(mailbox, profile, store.get_organization()) if with_ticket else None
    assert (issued is not None) == with_ticket
    store.due_index.move(mailbox.id, None, due, issued.properties() if issued else None)
    return mailbox


def _requests(store: Store) -> int:
    return store.account.counter.total("table", "queue")


def test_a_ticket_claims_with_one_request_per_mailbox(
    store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    """Table and Queue requests counted, the work items sent to the real queue and read back from it."""
    now = utcnow().replace(microsecond=0)
    mailboxes = [_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True) for _ in range(120)]
    queues = Services(settings, store)
    scheduler = Scheduler(store, settings, queues.enqueue_work(), lambda: now, send_batch=queues.enqueue_work_batch())
    before = _requests(store)
    report = scheduler.tick()
    used = _requests(store) - before
    assert (report.dispatched, report.by_ticket) == (120, 120)
    shards = len({store.due_index.shard(m.id) for m in mailboxes})
    # per mailbox one conditional merge; per shard one query, and where some are due: the organization, the
    # profile, one move transaction (<= 50 mailboxes) and one work message per 8 mailboxes
    assert used <= 120 + 16 + shards * 3 + report.messages
    assert used / 120 < 2
    queue = store.account.queue(Queue.MAILBOX_WORK)
    items = [i for m in queue.receive_messages(max_messages=32) for i in parse_work(m.content)]
    assert len(items) == 120 and report.messages < 120
    assert sorted(i.mailbox_id for i in items) == sorted(m.id for m in mailboxes)
    for item in items:
        claimed = store.get_mailbox(item.mailbox_id)
        assert claimed.processing_state is ProcessingState.PROCESSING and claimed.host_id == item.lease_id
        assert claimed.lease_expires_on == now + timedelta(seconds=settings.lease_seconds)
        assert claimed.processing_last_attempted_on == now
        assert claimed.name == "m" and claimed.approval is EmailAddressApproval.APPROVED  # merged, not replaced
    again = scheduler.tick()  # the rows stay where they are until the workers move them: nobody claims twice
    assert (again.busy, again.dispatched, again.by_ticket) == (120, 0, 0)


def test_work_items_share_queue_messages(store: Store, settings: Settings, profile: EmailServerProfile) -> None:
    now = utcnow().replace(microsecond=0)
    for _ in range(40):
        _due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True)
    sent = Sent()
    report = _scheduler(store, settings, sent, now).tick()
    assert report.dispatched == 40 and len(sent.items()) == 40
    assert report.messages == len(sent.messages) < 40
    assert all(len(m.items) <= settings.work_items_per_message for m in sent.messages if isinstance(m, WorkBatch))


@pytest.mark.parametrize("change", ["mailbox", "organization", "profile"])
def test_a_ticket_is_void_once_its_rows_change(
    store: Store, settings: Settings, profile: EmailServerProfile, change: str
) -> None:
    """A change since the ticket that makes the mailbox ineligible is seen: the claim reads the mailbox."""
    now = utcnow().replace(microsecond=0)
    mailbox = _due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True)
    if change == "mailbox":
        mailbox.enabled_for_incoming = False
        store.mailboxes.update(mailbox)
    elif change == "organization":
        store.organization.upsert(OrganizationSettings(email_connection_channel=EmailConnectionChannel.EMAIL_ROUTER))
    else:
        profile.state = StateCode.INACTIVE
        store.profiles.update(profile)
    sent = Sent()
    report = _scheduler(store, settings, sent, now).tick()
    assert (report.by_ticket, report.dispatched, report.unscheduled, sent.items()) == (0, 0, 1, [])
    assert store.get_mailbox(mailbox.id).due_row_key is None


def test_a_consumed_ticket_finds_the_lease(store: Store, settings: Settings, profile: EmailServerProfile) -> None:
    """The row keeps its ticket while the worker runs: the next claim's merge is refused, the read finds the
    lease held; once the lease expired (the work item was lost) the read path breaks it."""
    now = utcnow().replace(microsecond=0)
    mailbox = _due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True)
    sent = Sent()
    assert _scheduler(store, settings, sent, now).tick().by_ticket == 1
    report = _scheduler(store, settings, Sent(), now + timedelta(minutes=1)).tick()
    assert (report.busy, report.dispatched, report.by_ticket) == (1, 0, 0)
    assert store.get_mailbox(mailbox.id).host_id == sent.items()[0].lease_id
    late, again = now + timedelta(seconds=settings.lease_seconds + 1), Sent()
    report = _scheduler(store, settings, again, late).tick()
    assert (report.dispatched, report.leases_broken) == (1, 1)
    broken = store.get_mailbox(mailbox.id)
    assert broken.host_id == again.items()[0].lease_id and broken.forced_unlock_count == 1


def test_a_deleted_mailbox_drops_its_row(store: Store, settings: Settings, profile: EmailServerProfile) -> None:
    now = utcnow().replace(microsecond=0)
    mailbox = _due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True)
    store.mailboxes.delete(mailbox, if_unchanged=False)
    report = _scheduler(store, settings, Sent(), now).tick()
    assert (report.stale_rows, report.dispatched) == (1, 0)
    assert list(store.due_index.due(now + timedelta(days=1))) == []


def test_a_page_hands_the_rest_of_its_shard_on(
    store: Store, settings: Settings, profile: EmailServerProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(claimer_module, "CLAIM_PAGE_SIZE", 2)  # 40 rows in 16 shards: one shard has 3 or more
    now = utcnow().replace(microsecond=0)
    mailboxes = [_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True) for _ in range(40)]
    sent = Sent()
    scheduler = _scheduler(store, settings, sent, now)
    assert scheduler.fan_out().shards == 16
    claimed, pages = TickReport(), 0
    while sent.shards:  # the claim queue, drained as the host would
        work = sent.shards.pop(0)
        pages += 1
        claimed.add(scheduler.claim_shard(work))
    assert claimed.dispatched == 40 and claimed.handed_on > 0
    assert pages == 16 + claimed.handed_on
    assert sorted(i.mailbox_id for i in sent.items()) == sorted(m.id for m in mailboxes)


def test_concurrent_claimers_claim_each_mailbox_exactly_once(
    store: Store, settings: Settings, profile: EmailServerProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four claimers take every shard at the same moment, pages of 7, half the rows without tickets."""
    monkeypatch.setattr(claimer_module, "CLAIM_PAGE_SIZE", 7)
    now = utcnow().replace(microsecond=0)
    mailboxes = [_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=n % 2 == 0) for n in range(80)]
    claimers = [(_scheduler(store, settings, sent, now, queue=False), sent) for sent in (Sent() for _ in range(4))]
    items, report = claim_all_at_once(claimers)
    assert sorted(i.mailbox_id for i in items) == sorted(m.id for m in mailboxes)  # each exactly once, none lost
    assert report.dispatched == 80
    for item in items:
        claimed = store.get_mailbox(item.mailbox_id)
        assert claimed.host_id == item.lease_id and claimed.forced_unlock_count == 0
        assert claimed.due_row_key is not None and store.due_index.exists(claimed.id, claimed.due_row_key)
    rows = list(store.due_index.due(now + timedelta(days=1)))
    assert sorted(e.mailbox_id for e in rows) == sorted(m.id for m in mailboxes)  # one row each


def test_a_storage_error_on_one_row_loses_none_of_the_others(
    store: Store, settings: Settings, profile: EmailServerProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection reset on one mailbox's merge (a deterministic fault) must not drop the page's other claims."""
    now = utcnow().replace(microsecond=0)
    mailboxes = [_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True) for _ in range(20)]
    faulty = mailboxes[0].id
    real = MailboxLeases.take_if_unchanged

    def reset_once(
        self: MailboxLeases, mailbox_id: str, etag: str, version: int, lease: Lease, written: Mapping[str, Any]
    ) -> bool:
        if mailbox_id == faulty:
            raise ServiceResponseError("Connection reset by peer")
        return real(self, mailbox_id, etag, version, lease, written)

    monkeypatch.setattr(MailboxLeases, "take_if_unchanged", reset_once)
    sent = Sent()
    report = _scheduler(store, settings, sent, now).tick()
    assert (report.errors, report.dispatched) == (1, 19)
    assert sorted(i.mailbox_id for i in sent.items()) == sorted(m.id for m in mailboxes[1:])
    monkeypatch.setattr(MailboxLeases, "take_if_unchanged", real)
    again = Sent()
    assert _scheduler(store, settings, again, now + timedelta(minutes=1)).tick().dispatched == 1  # still due
    assert [i.mailbox_id for i in again.items()] == [faulty]
