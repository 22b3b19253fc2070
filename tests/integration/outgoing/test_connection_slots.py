"""Connection slots on real Azurite with a clock the test moves: a killed holder's slot comes back in about a
minute, a live holder keeps its slot by renewing it, and the limit holds while slots are taken over."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import timedelta

import pytest

from sync.mailboxes.outgoing_credentials import outgoing_endpoint
from sync.outgoing.pool import ConnectionPool
from sync.outgoing.port import NoConnectionSlot, SmtpEndpoint
from sync.outgoing.smtp import SmtpConnector
from sync.store.keys import safe_key
from sync.store.names import Table
from sync.store.slots import SLOT_LEASE, TAKEOVER_GRACE, ConnectionSlots, Slot
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration


def _slots(outbox: Outbox) -> ConnectionSlots:
    return ConnectionSlots(outbox.store.account.table(Table.CONNECTION_SLOTS), outbox.clock)


def _scope() -> str:
    return f"profile-{uuid.uuid4().hex[:12]}"


def test_a_killed_holders_slot_is_free_about_a_minute_after_its_last_renewal(outbox: Outbox) -> None:
    slots, scope = _slots(outbox), _scope()
    assert slots.acquire(scope, 1, "killed", SLOT_LEASE) is not None  # then the process dies: no renewal
    outbox.clock.advance(seconds=(SLOT_LEASE + TAKEOVER_GRACE).total_seconds() - 1)
    assert slots.acquire(scope, 1, "taker", SLOT_LEASE) is None  # not before its lease and the grace
    outbox.clock.advance(seconds=1)
    taken = slots.acquire(scope, 1, "taker", SLOT_LEASE)
    assert taken is not None and taken.holder == "taker"
    assert timedelta(seconds=70) >= SLOT_LEASE + TAKEOVER_GRACE  # "about a minute", not a function timeout


def test_a_live_holder_that_renews_keeps_its_slot(outbox: Outbox) -> None:
    slots, scope = _slots(outbox), _scope()
    slot = slots.acquire(scope, 1, "alive", SLOT_LEASE)
    for _ in range(10):  # ten minutes, renewed every third of the lease
        assert slot is not None
        outbox.clock.advance(seconds=(SLOT_LEASE / 3).total_seconds())
        assert slot.renewal_due(outbox.clock()) and slot.usable(outbox.clock())
        slot = slots.renew(slot, 1)
        assert slots.acquire(scope, 1, "taker", SLOT_LEASE) is None
    assert slot is not None and slot.holder == "alive"


def test_a_holder_whose_slot_was_taken_over_cannot_renew_it_and_stops_using_it(outbox: Outbox) -> None:
    slots, scope = _slots(outbox), _scope()
    stalled = slots.acquire(scope, 1, "stalled", SLOT_LEASE)
    assert stalled is not None
    outbox.clock.advance(seconds=(SLOT_LEASE + TAKEOVER_GRACE).total_seconds())
    assert not stalled.usable(outbox.clock())  # by its own clock it stopped using the slot before the takeover
    assert slots.acquire(scope, 1, "taker", SLOT_LEASE) is not None
    assert slots.renew(stalled, 1) is None


def test_a_slot_above_a_lowered_limit_is_not_renewed(outbox: Outbox) -> None:
    slots, scope = _slots(outbox), _scope()
    held = [slots.acquire(scope, 3, f"h{n}", SLOT_LEASE) for n in range(3)]
    top = next(s for s in held if s is not None and s.number == 2)
    assert slots.renew(top, 2) is None  # the profile now allows 2: the third connection gives its slot up
    assert len(_rows(outbox, scope)) == 2


def _rows(outbox: Outbox, scope: str) -> list[dict[str, object]]:
    table = outbox.store.account.table(Table.CONNECTION_SLOTS)
    return [dict(row) for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": safe_key(scope)})]


def test_concurrent_takers_of_abandoned_and_live_slots_never_exceed_the_limit(outbox: Outbox) -> None:
    slots, scope, limit = _slots(outbox), _scope(), 4
    abandoned = [slots.acquire(scope, limit, f"killed-{n}", SLOT_LEASE) for n in range(3)]
    assert all(abandoned)
    outbox.clock.advance(seconds=(SLOT_LEASE + TAKEOVER_GRACE).total_seconds())
    alive = slots.acquire(scope, limit, "alive", SLOT_LEASE)  # takes the free fourth slot
    assert alive is not None
    won: list[Slot] = []
    start = threading.Barrier(8)

    def take(n: int) -> None:
        start.wait()
        slot = slots.acquire(scope, limit, f"taker-{n}", SLOT_LEASE)
        if slot is not None:
            won.append(slot)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 3 and len({s.number for s in won} | {alive.number}) == limit  # only the abandoned ones
    assert slots.renew(alive, limit) is not None  # the live holder still has its own
    assert {row["holder"] for row in _rows(outbox, scope)} == {s.holder for s in won} | {"alive"}


# --- the pool: a heartbeat renews the slots of its connections ------------------------------------------


def _endpoint(outbox: Outbox) -> SmtpEndpoint:
    _, mailbox = outbox.mailbox(profile=outbox.scripted_profile)
    endpoint = outgoing_endpoint(mailbox, outbox.scripted_profile, outbox.box, outbox.settings.extra_ca_file)
    return dataclasses.replace(endpoint, scope=_scope(), max_connections=1)


def _pool(outbox: Outbox, holder: str) -> ConnectionPool:
    return ConnectionPool(
        SmtpConnector(), _slots(outbox), holder=holder, slot_lease=SLOT_LEASE,
        wait_seconds=0.0, idle_seconds=3600.0, heartbeat_seconds=3600.0,  # the test beats, not a thread
    )  # fmt: skip


def test_the_pool_heartbeat_keeps_an_idle_connections_slot(outbox: Outbox) -> None:
    endpoint = _endpoint(outbox)
    pool, other = _pool(outbox, "instance-a"), _pool(outbox, "instance-b")
    try:
        with pool.session(endpoint):
            pass  # the connection stays open, idle, holding the only slot
        for _ in range(6):  # two minutes of heartbeats
            outbox.clock.advance(seconds=(SLOT_LEASE / 3).total_seconds())
            pool.renew_slots()
        outbox.clock.advance(seconds=(SLOT_LEASE / 2).total_seconds())
        with pytest.raises(NoConnectionSlot), other.session(endpoint):
            pass
        with pool.session(endpoint):  # still its own connection
            pass
        assert pool.opened == 1
    finally:
        pool.close_all()
        other.close_all()


def test_a_pool_that_lost_its_slot_closes_the_connection_instead_of_exceeding_the_limit(outbox: Outbox) -> None:
    endpoint = _endpoint(outbox)
    stalled, taker = _pool(outbox, "stalled"), _pool(outbox, "taker")
    try:
        with stalled.session(endpoint):
            pass  # idle; then its heartbeat stalls for longer than the lease
        outbox.clock.advance(seconds=(SLOT_LEASE + TAKEOVER_GRACE).total_seconds())
        # the slot is taken over: one connection for the limit of one; the stalled pool neither reuses its
        # connection nor opens one
        with taker.session(endpoint), pytest.raises(NoConnectionSlot), stalled.session(endpoint):
            pass
        stalled.renew_slots()
        assert stalled.opened == 1 and taker.opened == 1
    finally:
        stalled.close_all()
        taker.close_all()


def test_a_sender_holds_its_connection_slot_for_a_minute_at_a_time(outbox: Outbox) -> None:
    changes = {"id": "one-" + outbox.scripted_profile.id[:20], "max_concurrent_connections": 1}
    profile = outbox.scripted_profile.model_copy(update=changes)
    outbox.store.profiles.upsert(profile)
    user, mailbox = outbox.mailbox(profile=profile)
    outbox.submit(user, outbox.carol)
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]
    (row,) = _rows(outbox, f"mailbox:{mailbox.id}")  # its connection is idle and still holds the slot
    assert row["expires_on"] == outbox.clock.now + SLOT_LEASE  # a crash now frees it a minute later
