"""Tasks through exchangelib: create, fetch, completion as Exchange keeps it consistent, update and delete
(sync of every item type is in ``test_sync_item_types``)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from exchangelib import Account, EWSDate, Task
from exchangelib.errors import ErrorItemNotFound

from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE

pytestmark = pytest.mark.integration


def follow_up(account: Account, **fields: object) -> Task:
    task = Task(
        account=account,
        folder=account.tasks,
        subject="Send the quote",
        body="Prices as agreed on the phone",
        start_date=EWSDate(2024, 5, 1),
        due_date=EWSDate(2024, 5, 10),
        categories=["CRM"],
        **fields,
    )
    task.save()
    return task


def test_a_task_round_trips_through_create_and_fetch(alice: Account, ews_server: EwsServer) -> None:
    task = follow_up(alice, status="InProgress", percent_complete=Decimal(40))
    [stored] = ews_server.items(ALICE, "tasks")
    assert (task.id, task.changekey) == (stored.item_id, stored.change_key)
    assert (stored.item_type, stored.item_class, stored.subject) == ("Task", "IPM.Task", "Send the quote")
    assert stored.value("due_date", datetime.datetime) == datetime.datetime(2024, 5, 10, tzinfo=datetime.UTC)
    assert (stored.extra["status"], stored.extra["percent_complete"]) == ("InProgress", 40.0)

    [fetched] = alice.fetch([task])
    assert isinstance(fetched, Task)
    assert (fetched.subject, fetched.body, fetched.categories) == (
        "Send the quote",
        "Prices as agreed on the phone",
        ["CRM"],
    )
    assert (fetched.start_date, fetched.due_date) == (EWSDate(2024, 5, 1), EWSDate(2024, 5, 10))
    assert (fetched.status, fetched.status_description, fetched.percent_complete) == ("InProgress", "In Progress", 40)
    assert (fetched.is_complete, fetched.complete_date, fetched.is_recurring) == (False, None, False)


def test_completing_a_task_sets_percent_and_complete_date(alice: Account, ews_server: EwsServer) -> None:
    task = follow_up(alice)
    before = task.changekey
    started = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    task.status = "Completed"
    task.save(update_fields=["status"])  # the server, not the client, sets the rest
    assert task.changekey != before
    [done] = alice.fetch([task], only_fields=["status", "percent_complete", "is_complete", "complete_date"])
    assert (done.status, done.percent_complete, done.is_complete) == ("Completed", 100, True)
    assert started <= done.complete_date <= datetime.datetime.now(datetime.UTC)

    task.status = "NotStarted"  # reopened: nothing is done any more
    task.save(update_fields=["status"])
    [stored] = ews_server.items(ALICE, "tasks")
    assert (stored.extra["status"], stored.extra["percent_complete"], "complete_date" in stored.extra) == (
        "NotStarted",
        0.0,
        False,
    )


def test_a_task_created_completed_is_complete(alice: Account) -> None:
    task = follow_up(alice, status="Completed")
    [fetched] = alice.fetch([task], only_fields=["status", "percent_complete", "is_complete", "complete_date"])
    assert (fetched.percent_complete, fetched.is_complete) == (100, True) and fetched.complete_date is not None


@pytest.mark.parametrize(("percent", "status"), [(100.0, "Completed"), (25.0, "InProgress"), (0.0, "NotStarted")])
def test_progress_set_in_outlook_moves_the_status(
    alice: Account, ews_server: EwsServer, percent: float, status: str
) -> None:
    item_id = ews_server.create_task(ALICE, subject="Call back", status="InProgress", percent_complete=50.0)
    ews_server.update_item_fields(ALICE, item_id, percent_complete=percent)
    [fetched] = alice.fetch([(item_id, None)], only_fields=["status", "percent_complete", "is_complete"])
    assert (fetched.status, fetched.percent_complete, fetched.is_complete) == (status, percent, status == "Completed")


def test_update_and_delete(alice: Account, ews_server: EwsServer) -> None:
    task = follow_up(alice)
    task.subject, task.due_date, task.start_date, task.body = "Send the revised quote", EWSDate(2024, 5, 17), None, None
    task.save(update_fields=["subject", "due_date", "start_date", "body"])
    [fetched] = alice.fetch([task], only_fields=["subject", "due_date", "start_date", "body"])
    assert (fetched.subject, fetched.due_date, fetched.start_date, fetched.body) == (
        "Send the revised quote",
        EWSDate(2024, 5, 17),
        None,
        None,
    )
    item_id = task.id
    task.delete()
    assert ews_server.items(ALICE, "tasks") == []
    [gone] = alice.fetch([(item_id, None)], only_fields=["subject"])
    assert isinstance(gone, ErrorItemNotFound)
