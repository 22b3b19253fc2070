"""Graph events, contacts and To Do tasks ↔ the canonical ACT fields: the pure converters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from sync.mail.graph import act_contacts, act_events, act_state, act_tasks
from sync.model.act import Recurrence, RecurrenceKind

START = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
END = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def fields(**more: object) -> dict[str, object]:
    values: dict[str, object] = {
        "subject": "Review", "body": None, "location": None, "start": START, "end": END, "all_day": False,
        "time_zone": "W. Europe Standard Time", "free_busy": "Busy", "required": ("bob@example.test",),
        "optional": (), "recurrence": None, "reminder": True,
    }  # fmt: skip
    return values | more


def read_back(body: dict[str, Any], extended: list[dict[str, str]]) -> dict[str, object]:
    """What Graph would return for ``body``, read in UTC (times converted as the server does)."""
    event = dict(body)
    for name in ("start", "end"):
        moment = act_events._utc(body[name])
        event[name] = {"dateTime": moment.replace(tzinfo=None).isoformat(), "timeZone": "UTC"}
    event["originalStartTimeZone"] = body["start"]["timeZone"]
    event["singleValueExtendedProperties"] = extended
    return act_events.event_fields(event)


def test_an_event_is_written_in_its_zone_and_reads_back_the_same() -> None:
    body, extended = act_events.event_body(fields(), fields().keys(), invite=True)

    assert body["start"] == {"dateTime": "2027-03-01T09:00:00", "timeZone": "W. Europe Standard Time"}
    assert body["attendees"] == [{"type": "required", "emailAddress": {"address": "bob@example.test"}}]
    assert read_back(body, extended) == fields()


def test_attendees_not_to_be_invited_are_kept_in_our_property_and_read_back() -> None:
    body, extended = act_events.event_body(fields(), fields().keys(), invite=False)

    assert body["attendees"] == []
    assert read_back(body, extended)["required"] == ("bob@example.test",)


def test_an_all_day_event_is_written_as_midnights_of_its_zone() -> None:
    day = fields(
        all_day=True, start=datetime(2027, 2, 28, 23, 0, tzinfo=UTC), end=datetime(2027, 3, 1, 23, 0, tzinfo=UTC)
    )

    body, extended = act_events.event_body(day, ["start"], invite=True)

    assert (body["start"]["dateTime"], body["end"]["dateTime"]) == ("2027-03-01T00:00:00", "2027-03-02T00:00:00")
    assert read_back(body, extended)["start"] == day["start"]


@pytest.mark.parametrize(
    "series",
    [
        Recurrence(kind=RecurrenceKind.WEEKLY, weekdays=[1, 3], start=date(2027, 3, 1), occurrences=6),
        Recurrence(kind=RecurrenceKind.DAILY, interval=2, start=date(2027, 3, 1), end=date(2027, 3, 20)),
        Recurrence(kind=RecurrenceKind.MONTHLY, day_of_month=15, start=date(2027, 3, 15)),
        Recurrence(kind=RecurrenceKind.YEARLY, interval=2, day_of_month=1, month=3, start=date(2027, 3, 1)),
    ],
)
def test_series_round_trip_including_a_yearly_interval_ews_cannot_write(series: Recurrence) -> None:
    body, extended = act_events.event_body(fields(recurrence=series), ["recurrence"], invite=True)

    assert read_back(body | {"attendees": []}, extended)["recurrence"] == series


def test_a_relative_series_has_no_crm_counterpart() -> None:
    relative = {
        "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["tuesday"], "index": "second"},
        "range": {"type": "noEnd", "startDate": "2027-03-09"},
    }
    body, extended = act_events.event_body(fields(), fields().keys(), invite=True)

    with pytest.raises(ValueError, match="relativeMonthly"):
        read_back(body | {"recurrence": relative}, extended)


def test_partial_time_or_attendee_changes_need_the_current_event() -> None:
    assert act_events.needs_current(["start"]) and act_events.needs_current(["optional"])
    assert not act_events.needs_current(["subject", "location"])
    assert not act_events.needs_current(["start", "end", "all_day", "time_zone", "recurrence"])


def test_a_contact_keeps_its_addresses_in_order_but_graph_has_no_empty_slot() -> None:
    """Graph lists e-mail addresses without their Outlook slot: a gap closes (docs/act.md)."""
    canonical = {
        "first_name": "Carol", "last_name": "Clark", "email1": "carol@fabrikam.test", "email2": None,
        "email3": "c@home.test", "job_title": "Buyer", "company": "Fabrikam", "business_phone": "+1 555 0100",
        "mobile_phone": None, "street": "1 Main St", "city": "Seattle", "postal_code": "98101", "country": "USA",
    }  # fmt: skip

    body = act_contacts.contact_body(canonical, canonical.keys())

    assert body["displayName"] == "Carol Clark"
    assert [e["address"] for e in body["emailAddresses"]] == ["carol@fabrikam.test", "c@home.test"]
    assert act_contacts.contact_fields(body) == canonical | {"email2": "c@home.test", "email3": None}
    assert act_contacts.needs_current(["email2"]) and not act_contacts.needs_current(["job_title"])


def test_a_todo_task_maps_status_and_dates_and_has_no_percent_complete() -> None:
    canonical = {
        "subject": "Send the quote",
        "body": "Today",
        "due": date(2027, 3, 5),
        "start": None,
        "status": "WaitingOnOthers",
    }

    body = act_tasks.task_body(canonical, canonical.keys())
    done = act_tasks.task_fields(
        body
        | {"status": "completed", "completedDateTime": {"dateTime": "2027-03-04T10:00:00.0000000", "timeZone": "UTC"}}
    )

    assert body["status"] == "waitingOnOthers" and body["dueDateTime"]["dateTime"] == "2027-03-05T00:00:00"
    assert act_tasks.task_fields(body)["percent_complete"] == 0
    assert (done["status"], done["percent_complete"], done["complete_date"]) == ("Completed", 100, date(2027, 3, 4))


def test_a_graph_delta_state_round_trips_and_anything_else_is_no_state() -> None:
    state = act_state.DeltaState(
        "https://graph.microsoft.com/v1.0/users/a/contacts/delta?$deltatoken=x|y", date(2027, 3, 1)
    )

    assert act_state.decode(act_state.encode(state)) == state
    assert act_state.decode("H4sIAAAAAAAEAO29B2AcSZYlJi9tynt") is None  # an EWS sync state
    assert act_state.decode("graph|not-a-day|https://graph.microsoft.com/v1.0/x") is None
    assert act_state.decode(None) is None
