"""A mailbox-work message of several items: each runs on its own; a failed one is sent on alone."""

from __future__ import annotations

import uuid

import pytest

from sync.scheduling.batch_runner import run_each
from sync.scheduling.work import WorkBatch, WorkItem, parse_work


def _items(n: int) -> list[WorkItem]:
    return [WorkItem(mailbox_id=str(uuid.uuid4()), lease_id=str(uuid.uuid4())) for _ in range(n)]


def _run(failing: WorkItem | None) -> object:
    def run(item: WorkItem) -> str:
        if item == failing:
            raise RuntimeError("the server went away")
        return item.mailbox_id

    return run


def test_a_failed_item_of_a_batch_is_sent_on_alone_and_the_others_run() -> None:
    items = _items(4)
    alone: list[WorkItem] = []
    results = run_each(items, _run(items[1]), alone.append)  # type: ignore[arg-type]
    assert alone == [items[1]]
    assert results == [items[0].mailbox_id, None, items[2].mailbox_id, items[3].mailbox_id]


def test_a_single_item_fails_as_a_message_always_did() -> None:
    (item,) = _items(1)
    alone: list[WorkItem] = []
    with pytest.raises(RuntimeError):
        run_each([item], _run(item), alone.append)  # type: ignore[arg-type]
    assert alone == []  # the host retries the message itself


def test_a_batch_whose_resend_fails_fails_whole() -> None:
    items = _items(2)

    def refuse(item: WorkItem) -> None:
        raise OSError("queue unreachable")

    with pytest.raises(OSError):
        run_each(items, _run(items[0]), refuse)  # type: ignore[arg-type]


def test_both_message_forms_parse() -> None:
    items = _items(3)
    assert parse_work(items[0].model_dump_json()) == [items[0]]
    assert parse_work(WorkBatch(items=items).model_dump_json()) == items
