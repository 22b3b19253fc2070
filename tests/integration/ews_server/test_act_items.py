"""Canonical ACT fields through exchangelib and the EWS test server: what ``new_item`` saves reads back as the
same fields, and what ``set_fields`` changes is all that changes."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

import pytest
from exchangelib import Account, EWSDate
from exchangelib.items import Item

from sync.mail.ews.act_items import calendar_fields, contact_fields, new_item, set_fields, task_fields
from sync.model.act import Recurrence, RecurrenceKind
from sync.model.options import EntityType
from tests.ews import values
from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE, BOB

pytestmark = pytest.mark.integration

UTC = datetime.UTC
START = datetime.datetime(2024, 5, 6, 7, 0, tzinfo=UTC)  # 09:00 in Berlin, 00:00 in Los Angeles
FOLDERS = {EntityType.APPOINTMENT: "calendar", EntityType.CONTACT: "contacts", EntityType.TASK: "tasks"}


def meeting(**changes: object) -> dict[str, object]:
    return {
        "subject": "Quarterly review",
        "body": "Agenda:\n1. Numbers",
        "location": "Room 4.01",
        "start": START,
        "end": START + datetime.timedelta(hours=1, minutes=30),
        "all_day": False,
        "time_zone": "W. Europe Standard Time",
        "free_busy": "Tentative",
        "required": (BOB,),
        "optional": ("carol@elsewhere.test",),
        "recurrence": None,
        "reminder": True,
    } | changes


CUSTOMER: dict[str, object] = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email1": "ada@engines.test",
    "email2": None,
    "email3": "countess@lovelace.test",
    "job_title": "Chief Mathematician",
    "company": "Analytical Engines Ltd",
    "business_phone": "+44 20 7946 0000",
    "mobile_phone": "+44 7700 900000",
    "street": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4LB",
    "country": "UK",
}
FOLLOW_UP: dict[str, object] = {
    "subject": "Send the quote",
    "body": "Prices as agreed",
    "due": datetime.date(2024, 5, 10),
    "start": datetime.date(2024, 5, 1),
    "status": "InProgress",
    "percent_complete": 0,
    "complete_date": None,
}


def saved(account: Account, object_type: EntityType, fields: Mapping[str, object]) -> Item:
    """The item ``new_item`` makes of ``fields``, saved and fetched back with every field."""
    item = new_item(object_type, fields, account, getattr(account, FOLDERS[object_type]))
    item.save()
    [fetched] = account.fetch([item])
    return fetched


def updated(account: Account, item: Item, changes: Mapping[str, object]) -> Item:
    item.save(update_fields=set_fields(item, changes))
    [fetched] = account.fetch([item])
    return fetched


@pytest.mark.parametrize("zone", ["W. Europe Standard Time", "Pacific Standard Time"])
def test_an_appointment_keeps_its_instants_and_windows_time_zone(
    alice: Account, ews_server: EwsServer, zone: str
) -> None:
    fields = meeting(time_zone=zone)
    assert calendar_fields(saved(alice, EntityType.APPOINTMENT, fields)) == fields
    [stored] = ews_server.items(ALICE, "calendar")
    assert stored.value("start_timezone", values.TimeZone) == values.TimeZone(zone)


def test_an_appointment_without_a_time_zone_is_written_in_utc(alice: Account, ews_server: EwsServer) -> None:
    fields = meeting(time_zone=None)
    assert calendar_fields(saved(alice, EntityType.APPOINTMENT, fields)) == fields
    assert ews_server.items(ALICE, "calendar")[0].value("start_timezone", values.TimeZone) == values.TimeZone("UTC")


def test_an_all_day_event_is_the_midnights_of_its_zone(alice: Account, ews_server: EwsServer) -> None:
    berlin_day = datetime.datetime(2024, 10, 2, 22, 0, tzinfo=UTC)  # 3 October, 00:00 in Berlin
    fields = meeting(start=berlin_day, end=berlin_day + datetime.timedelta(days=1), all_day=True, free_busy="OOF")
    fetched = saved(alice, EntityType.APPOINTMENT, fields)
    assert (fetched.start, fetched.end, fetched.is_all_day) == (EWSDate(2024, 10, 3), EWSDate(2024, 10, 3), True)
    assert calendar_fields(fetched) == fields
    assert ews_server.items(ALICE, "calendar")[0].value("start", datetime.datetime) == berlin_day


@pytest.mark.parametrize(
    "series",
    [
        Recurrence(kind=RecurrenceKind.WEEKLY, weekdays=[1, 3], start=START.date(), end=datetime.date(2024, 6, 30)),
        Recurrence(kind=RecurrenceKind.WEEKLY, interval=2, weekdays=[5], start=START.date(), occurrences=5),
        Recurrence(kind=RecurrenceKind.MONTHLY, day_of_month=6, start=START.date()),
        Recurrence(kind=RecurrenceKind.YEARLY, day_of_month=6, month=5, start=START.date(), occurrences=3),
    ],
)
def test_a_recurring_series_keeps_its_pattern_and_end(alice: Account, series: Recurrence) -> None:
    fields = meeting(recurrence=series)
    fetched = saved(alice, EntityType.APPOINTMENT, fields)
    assert fetched.type == "RecurringMaster"
    assert calendar_fields(fetched) == fields


def test_a_series_every_other_year_is_refused_rather_than_written_yearly(alice: Account) -> None:
    every_other = Recurrence(kind=RecurrenceKind.YEARLY, interval=2, day_of_month=6, month=5, start=START.date())
    with pytest.raises(ValueError, match="every year"):
        new_item(EntityType.APPOINTMENT, meeting(recurrence=every_other), alice, alice.calendar)


def test_a_contact_round_trips(alice: Account) -> None:
    assert contact_fields(saved(alice, EntityType.CONTACT, CUSTOMER)) == CUSTOMER


def test_a_task_round_trips(alice: Account) -> None:
    assert task_fields(saved(alice, EntityType.TASK, FOLLOW_UP)) == FOLLOW_UP


def test_exchange_stamps_the_complete_date_of_a_completed_task(alice: Account) -> None:
    before = datetime.datetime.now(UTC).date()
    sent = {**FOLLOW_UP, "status": "Completed", "percent_complete": 100, "complete_date": datetime.date(2024, 5, 9)}
    fields = task_fields(saved(alice, EntityType.TASK, sent))
    assert fields == {**sent, "complete_date": fields["complete_date"]}
    assert fields["complete_date"] in {before, datetime.datetime.now(UTC).date()}  # its own date, not the one sent


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Quarterly review (moved)", "body": None, "location": None, "free_busy": "Free"},
        {"start": START + datetime.timedelta(days=2), "end": START + datetime.timedelta(days=2, hours=1)},
        {"time_zone": "Pacific Standard Time"},
        {"required": (BOB, "dave@elsewhere.test"), "optional": (), "reminder": False},
        {"recurrence": Recurrence(kind=RecurrenceKind.DAILY, interval=2, start=START.date(), occurrences=3)},
    ],
)
def test_set_fields_changes_only_what_was_asked_of_an_appointment(alice: Account, changes: dict[str, object]) -> None:
    item = saved(alice, EntityType.APPOINTMENT, meeting())
    assert calendar_fields(updated(alice, item, changes)) == {**meeting(), **changes}


def test_an_appointment_becomes_all_day_in_its_own_zone(alice: Account) -> None:
    item = saved(alice, EntityType.APPOINTMENT, meeting(time_zone="Pacific Standard Time"))
    pacific_day = datetime.datetime(2024, 5, 6, 7, 0, tzinfo=UTC)  # 6 May, 00:00 in Los Angeles
    changes = {"all_day": True, "start": pacific_day, "end": pacific_day + datetime.timedelta(days=1)}
    fetched = updated(alice, item, changes)
    assert (fetched.start, fetched.is_all_day) == (EWSDate(2024, 5, 6), True)
    assert calendar_fields(fetched) == meeting(time_zone="Pacific Standard Time", **changes)


def test_set_fields_names_the_fields_to_save(alice: Account) -> None:
    item = saved(alice, EntityType.APPOINTMENT, meeting())
    assert set_fields(item, {"subject": "New", "free_busy": "Busy"}) == ["subject", "legacy_free_busy_status"]
    assert set_fields(item, {"time_zone": None}) == ["start", "end", "is_all_day"]


@pytest.mark.parametrize(
    "changes",
    [
        {"last_name": "King", "job_title": None, "company": "Lovelace Estates"},
        {"email1": None, "email2": "ada@lovelace.test", "mobile_phone": None},
        {"city": "Ockham", "postal_code": None},
        {"street": None, "city": None, "postal_code": None, "country": None},
    ],
)
def test_set_fields_changes_only_what_was_asked_of_a_contact(alice: Account, changes: dict[str, object]) -> None:
    item = saved(alice, EntityType.CONTACT, CUSTOMER)
    fetched = updated(alice, item, changes)
    assert contact_fields(fetched) == {**CUSTOMER, **changes}
    assert fetched.display_name == f"Ada {changes.get('last_name', 'Lovelace')}"


def test_set_fields_changes_only_what_was_asked_of_a_task(alice: Account) -> None:
    item = saved(alice, EntityType.TASK, FOLLOW_UP)
    changes = {"subject": "Send the revised quote", "due": datetime.date(2024, 5, 17), "start": None, "body": None}
    assert task_fields(updated(alice, item, changes)) == {**FOLLOW_UP, **changes}


def test_a_task_completed_through_set_fields_is_complete(alice: Account) -> None:
    item = saved(alice, EntityType.TASK, FOLLOW_UP)
    fields = task_fields(updated(alice, item, {"status": "Completed"}))
    assert (fields["status"], fields["percent_complete"]) == ("Completed", 100) and fields["complete_date"] is not None
