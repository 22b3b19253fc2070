"""R-SCH-10 turns: a mailbox refused a connection slot gets the next one given back, before any newcomer, and is
woken for it at once; so under sustained contention no mailbox waits more than its place in line (real Azurite)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sync.store import Store
from sync.store.keys import safe_key
from sync.store.names import Table
from sync.store.slot_turns import KEPT_PREFIX, WAITER_PREFIX
from sync.store.slots import KEPT_FOR, SLOT_LEASE, TAKEOVER_GRACE, ConnectionSlots, Slot

pytestmark = pytest.mark.integration

LEASE = SLOT_LEASE


class Scope:
    """One scope of the real table, on a clock the test moves."""

    def __init__(self, store: Store, limit: int) -> None:
        self.now = datetime.now(UTC)
        self.table = store.account.table(Table.CONNECTION_SLOTS)
        self.slots = ConnectionSlots(self.table, clock=lambda: self.now)
        self.name, self.limit = f"incoming:profile:{uuid.uuid4().hex}", limit

    def take(self, mailbox: str) -> Slot | None:
        return self.slots.take_turn(self.name, self.limit, f"holder-of-{mailbox}", LEASE, mailbox).slot

    def give_back(self, slot: Slot) -> str | None:
        return self.slots.give_back(slot, self.limit)

    def rows(self, prefix: str = "") -> list[dict[str, object]]:
        rows = self.table.query_entities("PartitionKey eq @pk", parameters={"pk": safe_key(self.name)})
        return [dict(r) for r in rows if str(r["RowKey"]).startswith(prefix)]

    def kept_for(self) -> list[str]:
        return sorted(str(r["holder"]).removeprefix(KEPT_PREFIX) for r in self.rows() if
                      str(r.get("holder", "")).startswith(KEPT_PREFIX))  # fmt: skip

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


def _held(slot: Slot | None) -> Slot:
    assert slot is not None
    return slot


def test_a_slot_given_back_is_kept_for_the_longest_waiting_mailbox_and_never_for_a_newcomer(
    isolated_store: Store,
) -> None:
    scope = Scope(isolated_store, limit=2)
    first, second = _held(scope.take("h1")), _held(scope.take("h2"))
    assert scope.take("w1") is None  # every slot held: w1 waits
    scope.tick()
    assert scope.take("w2") is None  # and w2 after it

    assert scope.give_back(first) == "w1"  # kept for w1: the giver wakes it
    scope.tick()
    assert scope.take("newcomer") is None  # not a newcomer's (before turns: whoever came first)
    assert scope.take("w2") is None  # nor w2's: w1 waited longer
    turn = _held(scope.take("w1"))
    assert turn.number == first.number

    assert scope.give_back(second) == "w2"  # w2 before the newcomer, who came later
    assert _held(scope.take("w2")).number == second.number
    assert scope.give_back(turn) == "newcomer"
    assert scope.rows(WAITER_PREFIX) == []  # every waiter served


def test_a_slot_whose_holder_died_goes_to_the_waiter_through_the_next_newcomer(isolated_store: Store) -> None:
    """Nobody gives back the slot of a killed process: when its lease is over, the next taker who is not first in
    line hands it to the waiter first in line (and says so, to be woken) instead of taking it."""
    scope = Scope(isolated_store, limit=1)
    _held(scope.take("killed"))
    assert scope.take("w1") is None
    scope.tick((LEASE + TAKEOVER_GRACE).total_seconds())
    turn = scope.slots.take_turn(scope.name, scope.limit, "holder-of-newcomer", LEASE, "newcomer")
    assert (turn.slot, turn.handed) == (None, ("w1",))
    assert _held(scope.take("w1")).number == 0


def test_a_slot_kept_for_a_mailbox_that_never_comes_is_free_again(isolated_store: Store) -> None:
    """A mailbox disabled after it was refused must not hold a slot for ever: its kept slot lasts KEPT_FOR."""
    scope = Scope(isolated_store, limit=1)
    slot = _held(scope.take("h"))
    assert scope.take("disabled-later") is None
    assert scope.give_back(slot) == "disabled-later"
    scope.tick(KEPT_FOR.total_seconds() - 1)
    assert scope.take("newcomer") is None
    scope.tick(1 + TAKEOVER_GRACE.total_seconds())
    assert _held(scope.take("newcomer")).number == 0


def test_a_mailbox_refused_a_slot_is_served_within_its_place_in_line_while_newcomers_keep_coming(
    isolated_store: Store,
) -> None:
    """Sustained contention: 2 slots; every round each holder gives its slot back and 3 newcomers arrive.
    Without turns a refused mailbox raced every newcomer at every retry and could lose for ever; with them the
    mailboxes are served in the order they came, so one waits only for the waiters ahead of it (2 a round)."""
    scope = Scope(isolated_store, limit=2)
    holding = [_held(scope.take("m00")), _held(scope.take("m01"))]
    arrivals: list[str] = []
    served: list[str] = []
    for round_ in range(6):
        for n in range(3):
            name = f"m{2 + 3 * round_ + n:02d}"
            assert scope.take(name) is None  # every slot is held or kept: it waits
            arrivals.append(name)
            scope.tick()
        handed = [scope.give_back(slot) for slot in holding]
        holding = [_held(scope.take(str(name))) for name in handed]  # their cycles, woken, take their slots
        served += [str(name) for name in handed]
        ahead = len(arrivals) - len(served)
        assert ahead == round_ + 1  # the line grows by one a round, and nobody skips it
    assert served == arrivals[: len(served)]  # first come, first served: a waiter's wait is bounded by its place
    assert [str(r["waiter"]) for r in scope.rows(WAITER_PREFIX)] == arrivals[len(served) :]


def test_concurrent_givers_never_keep_two_slots_for_one_mailbox(isolated_store: Store) -> None:
    """Givers racing for the same first waiter: the waiter's row goes in the same transaction as the slot it
    gets, so only one of them serves it and the others serve the next waiters (or give their slot back)."""
    givers, waiters = 8, 3
    scope = Scope(isolated_store, limit=givers)
    slots = [_held(scope.take(f"h{n}")) for n in range(givers)]
    for n in range(waiters):
        assert scope.take(f"w{n}") is None
        scope.tick()
    barrier = threading.Barrier(givers)
    handed: list[str | None] = []
    lock = threading.Lock()

    def give(slot: Slot) -> None:
        barrier.wait()
        name = scope.give_back(slot)
        with lock:
            handed.append(name)

    threads = [threading.Thread(target=give, args=(slot,)) for slot in slots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    served = [name for name in handed if name is not None]
    assert len(handed) == givers
    assert len(served) == len(set(served))  # nobody served twice
    assert sorted(served) == scope.kept_for()  # every slot kept is one a giver reported (and woke)
    left = [str(r["waiter"]) for r in scope.rows(WAITER_PREFIX)]
    assert sorted(served + left) == [f"w{n}" for n in range(waiters)]  # nobody lost either
    for name in left:  # a waiter no giver could serve finds a free slot at its retry
        assert scope.take(name) is not None


def test_a_mailbox_taking_its_kept_slot_leaves_the_line_even_if_a_late_refusal_put_it_back(
    isolated_store: Store,
) -> None:
    """A refusal racing the hand-over can write the mailbox's waiting row again after the giver removed it: the
    cycle that takes the kept slot removes that row too, or the mailbox would be served a second slot later."""
    scope = Scope(isolated_store, limit=2)
    first, _ = _held(scope.take("h1")), _held(scope.take("h2"))
    assert scope.take("w") is None
    assert scope.give_back(first) == "w"
    late_refusal = {"PartitionKey": safe_key(scope.name), "RowKey": WAITER_PREFIX + "w", "waiter": "w",
                    "since": scope.now, "expires_on": scope.now + timedelta(minutes=3)}  # fmt: skip
    scope.table.upsert_entity(late_refusal)
    assert _held(scope.take("w")).number == first.number
    assert scope.rows(WAITER_PREFIX) == []
