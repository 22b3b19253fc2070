"""Calendar items through exchangelib: create, fetch, update, delete, time zones, recurrence, all-day
events and the calendar view (sync of every item type is in ``test_sync_item_types``)."""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
import requests
from exchangelib import Account, CalendarItem, EWSDate, EWSDateTime, EWSTimeZone, HTMLBody, Mailbox
from exchangelib.errors import ErrorCalendarEndDateIsEarlierThanStartDate, ErrorItemNotFound
from exchangelib.fields import MONDAY, WEDNESDAY
from exchangelib.items import SEND_TO_NONE
from exchangelib.properties import Attendee
from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    Boundary,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Pattern,
    Recurrence,
    WeeklyPattern,
)

from devstack import TestCA
from tests.ews import values
from tests.ews.fixtures import EWS_PASSWORD
from tests.ews.server import EwsServer
from tests.ews.soap import NAMESPACES
from tests.integration.ews_server.conftest import ALICE, BOB

pytestmark = pytest.mark.integration

UTC = datetime.UTC
BERLIN = EWSTimeZone("Europe/Berlin")
PACIFIC = EWSTimeZone("America/Los_Angeles")
EWS_UTC = EWSTimeZone("UTC")


def appointment(account: Account, start: EWSDateTime, hours: int = 1, **fields: object) -> CalendarItem:
    """A saved appointment of ``hours`` from ``start``, sent without meeting invitations."""
    item = CalendarItem(
        account=account, folder=account.calendar, start=start, end=start + datetime.timedelta(hours=hours), **fields
    )
    item.save(send_meeting_invitations=SEND_TO_NONE)
    return item


def test_a_meeting_round_trips_through_create_and_fetch(alice: Account, ews_server: EwsServer) -> None:
    item = appointment(
        alice,
        EWSDateTime(2024, 6, 3, 10, 0, tzinfo=BERLIN),
        subject="Quarterly review",
        body=HTMLBody("<p>Agenda</p>"),
        location="Room 4.01",
        legacy_free_busy_status="Tentative",
        required_attendees=[Attendee(mailbox=Mailbox(email_address=BOB))],
        optional_attendees=[Attendee(mailbox=Mailbox(email_address="carol@elsewhere.test", name="Carol"))],
        categories=["CRM", "Customer"],
    )

    [stored] = ews_server.items(ALICE, "calendar")
    assert (item.id, item.changekey) == (stored.item_id, stored.change_key)
    assert (stored.item_type, stored.item_class, stored.subject) == (
        "CalendarItem",
        "IPM.Appointment",
        "Quarterly review",
    )
    assert stored.value("start", datetime.datetime) == datetime.datetime(2024, 6, 3, 8, 0, tzinfo=UTC)
    assert stored.value("start_timezone", values.TimeZone) == values.TimeZone("W. Europe Standard Time")
    assert stored.value("body", values.Body) == values.Body("<p>Agenda</p>", "HTML")
    assert stored.value("required_attendees", tuple) == (values.Attendee(BOB),)
    assert stored.categories == ("CRM", "Customer")

    [fetched] = alice.fetch([item])  # every field exchangelib knows
    assert isinstance(fetched, CalendarItem)
    assert (fetched.subject, fetched.body, fetched.location) == ("Quarterly review", "<p>Agenda</p>", "Room 4.01")
    assert isinstance(fetched.body, HTMLBody)
    assert (fetched.start, fetched.end) == (item.start, item.end)
    assert (fetched.is_all_day, fetched.legacy_free_busy_status, fetched.duration) == (False, "Tentative", "PT1H")
    assert fetched.organizer.email_address == ALICE
    assert [a.mailbox.email_address for a in fetched.required_attendees] == [BOB]
    [carol] = fetched.optional_attendees
    assert (carol.mailbox.name, carol.mailbox.email_address, carol.response_type) == (
        "Carol",
        "carol@elsewhere.test",
        "Unknown",
    )
    assert fetched.categories == ["CRM", "Customer"]
    assert (fetched.type, fetched.is_meeting, fetched.my_response_type) == ("Single", True, "Organizer")
    assert fetched.uid.startswith("040000008200E00074C5B7101A82E008")
    assert fetched._start_timezone.ms_id == fetched._end_timezone.ms_id == "W. Europe Standard Time"
    assert fetched.last_modified_time == stored.last_modified
    assert fetched.mime_content is None  # simplified: no iCalendar MIME for appointments


@pytest.mark.parametrize(
    ("zone", "windows_id"),
    [("Europe/Berlin", "W. Europe Standard Time"), ("America/Los_Angeles", "Pacific Standard Time")],
)
def test_the_time_zone_survives_a_round_trip_in_summer_and_winter(alice: Account, zone: str, windows_id: str) -> None:
    tz = EWSTimeZone(zone)
    summer = appointment(alice, EWSDateTime(2024, 7, 1, 9, 30, tzinfo=tz))
    winter = appointment(alice, EWSDateTime(2024, 12, 2, 9, 30, tzinfo=tz))
    for sent, fetched in zip((summer, winter), alice.fetch([summer, winter]), strict=True):
        assert (fetched.start, fetched.end) == (sent.start, sent.end)  # the same instants
        assert fetched._start_timezone.ms_id == fetched._end_timezone.ms_id == windows_id
        assert fetched.start.astimezone(fetched._start_timezone).time() == datetime.time(9, 30)  # the wall clock
    assert summer.start.utcoffset() != winter.start.utcoffset()


def test_start_and_end_may_be_in_different_time_zones(alice: Account) -> None:
    """A flight from Frankfurt to San Francisco: Outlook keeps a zone for each end."""
    flight = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="FRA-SFO",
        start=EWSDateTime(2024, 9, 10, 10, 0, tzinfo=BERLIN),
        end=EWSDateTime(2024, 9, 10, 12, 40, tzinfo=PACIFIC),
    )
    flight.save(send_meeting_invitations=SEND_TO_NONE)
    [fetched] = alice.fetch([flight], only_fields=["start", "end", "_start_timezone", "_end_timezone", "duration"])
    assert fetched.start == datetime.datetime(2024, 9, 10, 8, 0, tzinfo=UTC)
    assert fetched.end == datetime.datetime(2024, 9, 10, 19, 40, tzinfo=UTC)
    assert (fetched._start_timezone.ms_id, fetched._end_timezone.ms_id) == (
        "W. Europe Standard Time",
        "Pacific Standard Time",
    )
    assert fetched.duration == "PT11H40M"
    assert fetched.subject is None  # only the requested fields


def test_an_all_day_event_keeps_its_date(ews_account: Callable[..., Account], ews_server: EwsServer) -> None:
    alice = ews_account(ALICE, default_timezone=BERLIN)  # all-day dates are midnights of the account's zone
    holiday = CalendarItem(
        account=alice,
        folder=alice.calendar,
        subject="Day of German Unity",
        start=EWSDate(2024, 10, 3),
        end=EWSDate(2024, 10, 3),
        is_all_day=True,
        legacy_free_busy_status="OOF",
    )
    holiday.save(send_meeting_invitations=SEND_TO_NONE)
    [stored] = ews_server.items(ALICE, "calendar")
    assert stored.value("is_all_day", bool) is True
    assert stored.value("start", datetime.datetime) == datetime.datetime(2024, 10, 2, 22, 0, tzinfo=UTC)
    assert stored.value("end", datetime.datetime) == datetime.datetime(2024, 10, 3, 22, 0, tzinfo=UTC)
    [fetched] = alice.fetch([holiday])
    assert (fetched.start, fetched.end, fetched.is_all_day) == (EWSDate(2024, 10, 3), EWSDate(2024, 10, 3), True)
    assert (fetched.duration, fetched.legacy_free_busy_status) == ("P1D", "OOF")


START = datetime.date(2024, 5, 6)


@pytest.mark.parametrize(
    ("pattern", "boundary"),
    [
        (WeeklyPattern(interval=1, weekdays=[MONDAY, WEDNESDAY]), NumberedPattern(start=START, number=5)),
        (DailyPattern(interval=2), EndDatePattern(start=START, end=datetime.date(2024, 6, 30))),
        (AbsoluteMonthlyPattern(interval=1, day_of_month=15), NoEndPattern(start=START)),
    ],
)
def test_a_recurring_master_round_trips_its_pattern_and_range(
    alice: Account, ews_server: EwsServer, pattern: Pattern, boundary: Boundary
) -> None:
    series = appointment(
        alice,
        EWSDateTime(2024, 5, 6, 9, 0, tzinfo=BERLIN),
        subject="Stand-up",
        recurrence=Recurrence(pattern=pattern, boundary=boundary),
    )
    [fetched] = alice.fetch([series])
    assert (fetched.type, fetched.is_recurring) == ("RecurringMaster", False)  # Exchange sets it on occurrences only
    assert str(fetched.recurrence.pattern) == str(pattern)
    assert fetched.recurrence.boundary == boundary
    assert ews_server.items(ALICE, "calendar")[0].value("recurrence", values.Recurrence) is not None


def test_update_sets_and_deletes_fields_with_a_new_change_key(alice: Account, ews_server: EwsServer) -> None:
    item = appointment(
        alice,
        EWSDateTime(2024, 6, 3, 10, 0, tzinfo=BERLIN),
        subject="Review",
        location="Room 1",
        required_attendees=[Attendee(mailbox=Mailbox(email_address=BOB))],
        optional_attendees=[Attendee(mailbox=Mailbox(email_address="carol@elsewhere.test"))],
    )
    before = item.changekey
    item.subject, item.body, item.location = "Review (moved)", "New agenda", None
    item.start += datetime.timedelta(hours=2)
    item.end += datetime.timedelta(hours=3)
    item.legacy_free_busy_status = "Free"
    item.required_attendees = [Attendee(mailbox=Mailbox(email_address="dave@elsewhere.test"))]
    item.optional_attendees = []
    item.categories = ["CRM"]
    item.recurrence = Recurrence(pattern=WeeklyPattern(interval=2, weekdays=[MONDAY]), start=START, number=3)
    fields = ["subject", "body", "location", "start", "end", "legacy_free_busy_status", "required_attendees"]
    item.save(update_fields=[*fields, "optional_attendees", "categories", "recurrence"])

    [stored] = ews_server.items(ALICE, "calendar")
    assert item.changekey == stored.change_key != before and item.id == stored.item_id
    assert stored.value("start", datetime.datetime) == datetime.datetime(2024, 6, 3, 10, 0, tzinfo=UTC)
    assert stored.value("end", datetime.datetime) == datetime.datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
    assert "location" not in stored.extra and "optional_attendees" not in stored.extra
    [fetched] = alice.fetch([item], only_fields=[*fields, "optional_attendees", "categories", "type", "duration"])
    assert (fetched.subject, fetched.body, fetched.location) == ("Review (moved)", "New agenda", None)
    assert (fetched.start, fetched.end, fetched.duration) == (item.start, item.end, "PT2H")
    assert fetched.legacy_free_busy_status == "Free"
    assert [a.mailbox.email_address for a in fetched.required_attendees] == ["dave@elsewhere.test"]
    assert (fetched.optional_attendees, fetched.categories, fetched.type) == (None, ["CRM"], "RecurringMaster")

    item.recurrence, item.is_all_day = None, True
    item.save(update_fields=["recurrence", "is_all_day"])
    [fetched] = alice.fetch([item], only_fields=["type", "is_all_day"])
    assert (fetched.type, fetched.is_all_day) == ("Single", True)


def test_an_end_before_the_start_is_refused(alice: Account) -> None:
    item = appointment(alice, EWSDateTime(2024, 6, 3, 10, 0, tzinfo=BERLIN))
    item.start += datetime.timedelta(hours=5)  # exchangelib only checks this on create
    with pytest.raises(ErrorCalendarEndDateIsEarlierThanStartDate):
        item.save(update_fields=["start"])


def test_changes_made_in_outlook_show_on_the_next_fetch(alice: Account, ews_server: EwsServer) -> None:
    item_id = ews_server.create_calendar_item(
        ALICE,
        subject="Call with ACME",
        start=datetime.datetime(2024, 6, 4, 14, 0, tzinfo=UTC),
        end=datetime.datetime(2024, 6, 4, 14, 30, tzinfo=UTC),
        start_timezone=values.TimeZone("Pacific Standard Time"),
        required_attendees=[values.Attendee(BOB, "Bob")],
    )
    [before] = alice.fetch([(item_id, None)])
    assert (before.subject, before._start_timezone.ms_id, before._end_timezone.ms_id) == (
        "Call with ACME",
        "Pacific Standard Time",
        "Pacific Standard Time",  # EndTimeZone follows StartTimeZone unless set
    )
    ews_server.update_item_fields(ALICE, item_id, location="Teams", required_attendees=None, categories=["Won"])
    [after] = alice.fetch([(item_id, None)])
    assert (after.location, after.required_attendees, after.is_meeting, after.categories) == (
        "Teams",
        None,
        False,
        ["Won"],
    )
    assert after.changekey != before.changekey
    with pytest.raises(ValueError, match="no field"):
        ews_server.update_item_fields(ALICE, item_id, locaton="typo")


def test_delete_removes_the_appointment(alice: Account, ews_server: EwsServer) -> None:
    item = appointment(alice, EWSDateTime(2024, 6, 3, 10, 0, tzinfo=BERLIN), subject="Cancelled")
    item_id = item.id
    item.delete(send_meeting_cancellations=SEND_TO_NONE)
    assert ews_server.items(ALICE, "calendar") == []
    [gone] = alice.fetch([(item_id, None)], only_fields=["subject"])
    assert isinstance(gone, ErrorItemNotFound)


def test_the_calendar_view_lists_what_overlaps_the_window_by_start(alice: Account, ews_server: EwsServer) -> None:
    def add(subject: str, day: int, hour: int, hours: int = 1, recurrence: values.Recurrence | None = None) -> str:
        start = datetime.datetime(2024, 6, day, hour, tzinfo=UTC)
        end = start + datetime.timedelta(hours=hours)
        return ews_server.create_calendar_item(ALICE, subject=subject, start=start, end=end, recurrence=recurrence)

    add("before", 2, 10)
    add("late", 5, 15)
    add("early", 4, 9)
    add("overlapping the start", 3, 23, hours=2)
    add("after", 8, 10)
    weekly = values.Recurrence(
        "WeeklyRecurrence", {"Interval": "1", "DaysOfWeek": "Monday"}, "NoEndRecurrence", {"StartDate": "2024-06-03"}
    )
    series = add("weekly since Monday", 3, 8, recurrence=weekly)
    ended = {"StartDate": "2024-05-01", "EndDate": "2024-05-31"}
    add(
        "ended in May",
        1,
        8,
        recurrence=values.Recurrence("DailyRecurrence", {"Interval": "1"}, "EndDateRecurrence", ended),
    )

    window = alice.calendar.view(
        start=EWSDateTime(2024, 6, 4, tzinfo=EWS_UTC), end=EWSDateTime(2024, 6, 6, tzinfo=EWS_UTC)
    )
    found = list(window)
    assert [i.subject for i in found] == ["weekly since Monday", "overlapping the start", "early", "late"]
    assert (found[0].id, found[0].type) == (series, "RecurringMaster")  # simplified: the master, not occurrences
    assert ews_server.calls["FindItem"] == 1


CREATE_WITH_MEETING_TIME_ZONE = """<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
    xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <s:Header><t:RequestServerVersion Version="Exchange2007_SP1"/></s:Header>
  <s:Body>
    <m:CreateItem SendMeetingInvitations="SendToNone">
      <m:Items>
        <t:CalendarItem>
          <t:Subject>Planned in Exchange 2007</t:Subject>
          <t:Start>2024-06-03T09:00:00-07:00</t:Start>
          <t:End>2024-06-03T10:00:00-07:00</t:End>
          <t:MeetingTimeZone TimeZoneName="Pacific Standard Time"/>
        </t:CalendarItem>
      </m:Items>
    </m:CreateItem>
  </s:Body>
</s:Envelope>"""


def test_the_exchange_2007_meeting_time_zone_stands_for_start_and_end(
    alice: Account, ews_server: EwsServer, test_ca: TestCA
) -> None:
    """Clients of Exchange 2007 send one MeetingTimeZone; later ones read it as StartTimeZone and EndTimeZone."""
    http = requests.Session()
    http.trust_env = False
    reply = http.post(
        ews_server.url, data=CREATE_WITH_MEETING_TIME_ZONE, auth=(ALICE, EWS_PASSWORD), verify=str(test_ca.ca_cert)
    )
    created = ET.fromstring(reply.content).find(".//m:Items/t:CalendarItem/t:ItemId", NAMESPACES)
    assert created is not None
    [fetched] = alice.fetch([(created.get("Id"), None)], only_fields=["start", "_start_timezone", "_end_timezone"])
    assert fetched.start == datetime.datetime(2024, 6, 3, 16, 0, tzinfo=UTC)
    assert fetched._start_timezone.ms_id == fetched._end_timezone.ms_id == "Pacific Standard Time"
