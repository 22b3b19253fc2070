"""Tracking-token counter values handed out from reserved blocks: one reservation per block, none shared."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sync.model import OrganizationSettings
from sync.outgoing.counter_blocks import CounterBlocks
from sync.outgoing.tokens import take_counter


def test_one_reservation_serves_a_block_and_values_are_never_handed_out_twice() -> None:
    org = OrganizationSettings()
    reservations: list[int] = []

    def reserve(size: int) -> tuple[OrganizationSettings, list[int]]:
        reservations.append(size)
        return org, [take_counter(org) for _ in range(size)]

    blocks = CounterBlocks(size=5)
    with ThreadPoolExecutor(4) as pool:
        values = list(pool.map(lambda _: blocks.next(reserve)[1], range(12)))
    assert reservations == [5, 5, 5]  # 12 values: three blocks, each reserved once
    assert sorted(values) == list(range(1, 13))  # the organization's counter starts at 1
