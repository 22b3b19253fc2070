"""Claiming the ACT schedule against real Azurite, as the incoming one is claimed: fan-out of its shards as
``act`` claim messages, claim tickets in the ACT due rows, several claimers on the same rows at once (each
mailbox claimed exactly once, none lost), and the ACT lease kept apart from the incoming one (R-SCH-7/9)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from devstack.azurite import Azurite
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import EntityRef, utcnow
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EmailConnectionChannel,
    EntityType,
    ProcessingState,
    ServerType,
    StateCode,
    TestStatus,
)
from sync.scheduling import claimer as claimer_module
from sync.scheduling import ticket
from sync.scheduling.act_scheduler import ActScheduler, schedule_act_now
from sync.scheduling.claim_rules import ACT
from sync.scheduling.claimer import TickReport
from sync.scheduling.work import ShardWork
from sync.settings import Settings
from sync.store import Store
from sync.store.due_index import row_key
from tests.integration.scheduling.claims import Sent, claim_all_at_once, own_tables
from tests.integration.scheduling.mailboxes import act_due_mailbox

pytestmark = pytest.mark.integration


@pytest.fixture
def store(azurite: Azurite, settings: Settings) -> Store:
    return own_tables(settings, "a")


@pytest.fixture
def profile(store: Store) -> EmailServerProfile:
    return store.profiles.insert(EmailServerProfile(name="Exchange", server_type=ServerType.EXCHANGE_SERVER))


def _scheduler(store: Store, settings: Settings, sent: Sent, now: datetime, *, queue: bool = True) -> ActScheduler:
    return ActScheduler(store, settings, sent.item, lambda: now, send_batch=sent.batch,
                        send_shard=sent.shard if queue else None)  # fmt: skip


def test_the_act_timer_fans_out_and_a_ticket_claims_with_one_merge(
    store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    """16 ``act`` claim messages; each claim by ticket is one request; the rows stay until the worker moves them."""
    now = utcnow().replace(microsecond=0)
    mailboxes = [act_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True) for _ in range(40)]
    sent = Sent()
    scheduler = _scheduler(store, settings, sent, now)
    assert scheduler.fan_out().shards == 16
    assert {w.workload for w in sent.shards} == {"act"} and len(sent.shards) == 16
    report, before = TickReport(), store.account.counter.total("table", "queue")
    while sent.shards:
        report.add(scheduler.claim_shard(sent.shards.pop(0)))
    used = store.account.counter.total("table", "queue") - before
    assert (report.dispatched, report.by_ticket) == (40, 40)
    assert used <= 40 + 16 + 16 * 2  # a merge each; per shard its page query, the organization and the profile
    assert report.messages == len(sent.messages) < 40  # several work items a message
    items = sent.items()
    assert sorted(i.mailbox_id for i in items) == sorted(m.id for m in mailboxes)
    for item in items:
        claimed = store.get_mailbox(item.mailbox_id)
        assert item.workload == "act" and claimed.act_host_id == item.lease_id
        assert claimed.act_lease_expires_on == now + timedelta(seconds=settings.lease_seconds)
        assert claimed.host_id is None and claimed.processing_state is ProcessingState.IDLE  # incoming untouched
    again = _scheduler(store, settings, Sent(), now).tick()
    assert (again.busy, again.dispatched) == (40, 0)  # claimed once: the held ACT lease is seen


def test_an_incoming_cycle_does_not_hold_up_the_act_claim(
    store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    """The incoming lease held (its worker at work) leaves the ACT ticket valid, and the ACT claim leaves it."""
    now = utcnow().replace(microsecond=0)
    mailbox_id = str(uuid.uuid4())
    incoming_lease = str(uuid.uuid4())
    mailbox = store.mailboxes.insert(Mailbox(
        id=mailbox_id, name="m", email_address=f"{mailbox_id[:10]}@example.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())), email_server_profile_id=profile.id,
        approval=EmailAddressApproval.APPROVED, act_method=ActDeliveryMethod.SERVER_SIDE_SYNC,
        act_status=TestStatus.SUCCESS, act_due_row_key=row_key(mailbox_id, now - timedelta(minutes=1)),
        processing_state=ProcessingState.PROCESSING, host_id=incoming_lease,
        lease_expires_on=now + timedelta(minutes=5),
    ))  # fmt: skip
    issued = ticket.issue(mailbox, profile, store.get_organization(), rules=ACT)
    assert issued is not None and ticket.issue(mailbox, profile, store.get_organization()) is None
    store.act_due_index.move(mailbox.id, None, now - timedelta(minutes=1), issued.properties())
    sent = Sent()
    report = _scheduler(store, settings, sent, now).tick()
    assert (report.dispatched, report.by_ticket) == (1, 1)
    claimed = store.get_mailbox(mailbox_id)
    assert claimed.act_host_id == sent.items()[0].lease_id
    assert (claimed.host_id, claimed.processing_state) == (incoming_lease, ProcessingState.PROCESSING)


@pytest.mark.parametrize("change", ["mailbox", "organization", "profile"])
def test_an_act_ticket_is_void_once_its_rows_change(
    store: Store, settings: Settings, profile: EmailServerProfile, change: str
) -> None:
    """A change since the ticket that makes ACT ineligible is seen: the claim reads the mailbox, which leaves the
    ACT schedule (R-ELIG-6) and stays on the incoming one."""
    now = utcnow().replace(microsecond=0)
    mailbox = act_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True)
    mailbox.due_row_key = row_key(mailbox.id, now + timedelta(hours=1))
    mailbox = store.mailboxes.update(mailbox)
    if change == "mailbox":
        mailbox.enabled_for_act = False
        store.mailboxes.update(mailbox)
    elif change == "organization":
        store.organization.upsert(OrganizationSettings(email_connection_channel=EmailConnectionChannel.EMAIL_ROUTER))
    else:
        profile.state = StateCode.INACTIVE
        store.profiles.update(profile)
    sent = Sent()
    report = _scheduler(store, settings, sent, now).tick()
    assert (report.by_ticket, report.dispatched, report.unscheduled, sent.items()) == (0, 0, 1, [])
    left = store.get_mailbox(mailbox.id)
    assert left.act_due_row_key is None and left.act_host_id is None
    assert left.due_row_key == mailbox.due_row_key  # the incoming schedule is not the ACT scheduler's
    assert list(store.act_due_index.due(now + timedelta(days=1))) == []


def test_an_expired_act_lease_is_broken_and_a_postponed_mailbox_waits(
    store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    now = utcnow().replace(microsecond=0)
    lost = act_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=True)
    waiting = act_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=False)
    waiting.receiving_postponed_until_for_act = now + timedelta(minutes=30)
    store.mailboxes.update(waiting)
    first = Sent()
    report = _scheduler(store, settings, first, now).tick()
    assert (report.dispatched, report.by_ticket, report.postponed) == (1, 1, 1)
    assert store.get_mailbox(waiting.id).act_due_row_key == row_key(waiting.id, now + timedelta(minutes=30))
    busy = _scheduler(store, settings, Sent(), now + timedelta(minutes=1)).tick()
    assert (busy.busy, busy.dispatched) == (1, 0)  # the work item's cycle may still be running
    late, again = now + timedelta(seconds=settings.lease_seconds + 1), Sent()
    report = _scheduler(store, settings, again, late).tick()  # the work item was lost: the lease expired
    assert (report.dispatched, report.leases_broken) == (1, 1)
    assert store.get_mailbox(lost.id).act_host_id == again.items()[0].lease_id != first.items()[0].lease_id


def test_schedule_act_now_brings_an_unscheduled_mailbox_back(
    store: Store, settings: Settings, profile: EmailServerProfile
) -> None:
    now = utcnow().replace(microsecond=0)
    mailbox = act_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=False)
    mailbox.enabled_for_act = False
    store.mailboxes.update(mailbox)
    assert _scheduler(store, settings, Sent(), now).tick().unscheduled == 1

    def enable(m: Mailbox) -> None:
        m.enabled_for_act = True

    store.mailboxes.modify(mailbox.id, "mailbox", enable)
    schedule_act_now(store, mailbox.id, now)
    sent = Sent()
    assert _scheduler(store, settings, sent, now).tick().dispatched == 1
    assert [i.mailbox_id for i in sent.items()] == [mailbox.id]


def test_concurrent_act_claimers_claim_each_mailbox_exactly_once(
    store: Store, settings: Settings, profile: EmailServerProfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four claimers take every shard at the same moment, pages of 7, half the rows without tickets."""
    monkeypatch.setattr(claimer_module, "CLAIM_PAGE_SIZE", 7)
    now = utcnow().replace(microsecond=0)
    mailboxes = [act_due_mailbox(store, profile, now - timedelta(minutes=1), with_ticket=n % 2 == 0) for n in range(80)]
    claimers = [(_scheduler(store, settings, sent, now, queue=False), sent) for sent in (Sent() for _ in range(4))]
    items, report = claim_all_at_once(claimers)
    assert sorted(i.mailbox_id for i in items) == sorted(m.id for m in mailboxes)  # each exactly once, none lost
    assert (report.dispatched, report.errors) == (80, 0)
    for item in items:
        claimed = store.get_mailbox(item.mailbox_id)
        assert claimed.act_host_id == item.lease_id
        assert claimed.act_due_row_key is not None and store.act_due_index.exists(claimed.id, claimed.act_due_row_key)
    rows = list(store.act_due_index.due(now + timedelta(days=1)))
    assert sorted(e.mailbox_id for e in rows) == sorted(m.id for m in mailboxes)  # one row each


def test_a_claim_message_of_the_other_workload_is_refused(store: Store, settings: Settings) -> None:
    with pytest.raises(ValueError, match="incoming claim message reached the act claimer"):
        _scheduler(store, settings, Sent(), utcnow()).claim_shard(ShardWork(shard="s00"))
