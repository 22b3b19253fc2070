"""``t:CalendarItem``: the properties of an appointment or meeting, in the order of types.xsd.

Time zones are kept as the client sent them: StartTimeZone and EndTimeZone (Exchange 2010 and later) or
the single MeetingTimeZone of Exchange 2007, whose zone then stands for both. Start and End are instants and
go out in UTC, as Exchange writes them; the zones say which wall clock the organizer meant. An item that
never got a zone reports UTC, the zone of a request without TimeZoneContext. Zones are echoed as an ``Id``
(and ``Name`` if the client gave one), without the Periods/Transitions definition Exchange adds.

The server's own view of an appointment: the mailbox owner is its Organizer (MyResponseType "Organizer")
unless a test made it an invitation from someone else (``EwsServer.create_calendar_item(organizer=...)``),
it is a meeting when it has attendees, and CalendarItemType is RecurringMaster when it has a Recurrence,
else Single. IsRecurring stays false on a master, as on Exchange (only occurrences and exceptions have it).
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from collections.abc import Callable

from tests.ews.codecs import Attendees, Boolean, Integer, RecurrenceCodec, Text, Timestamp, TimeZoneCodec
from tests.ews.item_schema import ITEM_PROPERTIES, Computed, Schema, Stored, fixed
from tests.ews.shapes import mailbox_element
from tests.ews.soap import element
from tests.ews.state import Item, Mailbox
from tests.ews.values import TimeZone

UTC_ZONE = TimeZone("UTC", "(UTC) Coordinated Universal Time")
ORGANIZER = "organizer"  # key in Item.extra of another organizer's address: set only by the test API, never by EWS


def _is_meeting(item: Item) -> bool:
    return any(item.extra.get(name) for name in ("required_attendees", "optional_attendees", "resources"))


def _item_type(item: Item) -> str:
    return "RecurringMaster" if item.extra.get("recurrence") else "Single"


def _zone(*names: str) -> Callable[[Item], object]:
    """The first of these zones the item has, else UTC."""
    return lambda item: next((item.extra[n] for n in names if item.extra.get(n)), UTC_ZONE)


def _duration(item: Item, _: Mailbox) -> ET.Element | None:
    """xs:duration of End - Start, as Exchange writes it ("PT1H30M", "P1D")."""
    start, end = item.value("start", datetime.datetime), item.value("end", datetime.datetime)
    if start is None or end is None:
        return None
    length = end - start
    hours, rest = divmod(length.seconds, 3600)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (rest // 60, "M"), (rest % 60, "S")) if n)
    text = "P" + (f"{length.days}D" if length.days else "") + (f"T{time}" if time else "")
    return element("t:Duration", "PT0S" if text == "P" else text)


def _organizer(item: Item, mailbox: Mailbox) -> ET.Element:
    """The mailbox owner, unless the item is an invitation the owner received (``organizer`` in ``extra``)."""
    node = element("t:Organizer")
    other = item.extra.get(ORGANIZER)
    node.append(
        mailbox_element(None, other, "OneOff")
        if isinstance(other, str)
        else mailbox_element(None, mailbox.address, "Mailbox")
    )
    return node


def _my_response(item: Item, _: Mailbox) -> ET.Element:
    return element("t:MyResponseType", "Accept" if item.extra.get(ORGANIZER) else "Organizer")


SCHEMA = Schema(
    "CalendarItem",
    (
        *ITEM_PROPERTIES,
        Stored("calendar:UID", "uid", Text()),
        Stored("calendar:Start", "start", Timestamp()),
        Stored("calendar:End", "end", Timestamp()),
        Stored("calendar:IsAllDayEvent", "is_all_day", Boolean()),
        Stored("calendar:LegacyFreeBusyStatus", "legacy_free_busy_status", Text()),
        Stored("calendar:Location", "location", Text()),
        Stored("calendar:When", "when", Text()),
        Computed("calendar:IsMeeting", lambda i, _: element("t:IsMeeting", str(_is_meeting(i)).lower())),
        Computed("calendar:IsCancelled", fixed("t:IsCancelled", "false")),
        Computed("calendar:IsRecurring", fixed("t:IsRecurring", "false")),
        Computed("calendar:MeetingRequestWasSent", fixed("t:MeetingRequestWasSent", "false")),
        Stored("calendar:IsResponseRequested", "is_response_requested", Boolean()),
        Computed("calendar:CalendarItemType", lambda i, _: element("t:CalendarItemType", _item_type(i))),
        Computed("calendar:MyResponseType", _my_response),
        Computed("calendar:Organizer", _organizer),
        Stored("calendar:RequiredAttendees", "required_attendees", Attendees()),
        Stored("calendar:OptionalAttendees", "optional_attendees", Attendees()),
        Stored("calendar:Resources", "resources", Attendees()),
        Computed("calendar:Duration", _duration),
        Computed("calendar:AppointmentSequenceNumber", fixed("t:AppointmentSequenceNumber", "0")),
        Computed("calendar:AppointmentState", lambda i, _: element("t:AppointmentState", str(int(_is_meeting(i))))),
        Stored("calendar:Recurrence", "recurrence", RecurrenceCodec()),
        Stored(
            "calendar:MeetingTimeZone", "meeting_timezone", TimeZoneCodec(legacy=True), fallback=_zone("start_timezone")
        ),
        Stored("calendar:StartTimeZone", "start_timezone", TimeZoneCodec(), fallback=_zone("meeting_timezone")),
        Stored(
            "calendar:EndTimeZone",
            "end_timezone",
            TimeZoneCodec(),
            fallback=_zone("start_timezone", "meeting_timezone"),
        ),
        Stored("calendar:ConferenceType", "conference_type", Integer()),
        Stored("calendar:AllowNewTimeProposal", "allow_new_time_proposal", Boolean()),
        Stored("calendar:MeetingWorkspaceUrl", "meeting_workspace_url", Text()),
        Stored("calendar:NetShowUrl", "net_show_url", Text()),
    ),
)
