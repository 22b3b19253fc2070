"""Meeting requests and cancellations the EWS test server sends for an organizer's calendar item, through
exchangelib: SendMeetingInvitations on CreateItem, SendMeetingInvitationsOrCancellations on UpdateItem,
SendMeetingCancellations on DeleteItem."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy

import pytest
from exchangelib import DELEGATE, Account, CalendarItem, EWSDateTime, EWSTimeZone, Mailbox
from exchangelib.items import (
    SEND_ONLY_TO_CHANGED,
    SEND_TO_ALL_AND_SAVE_COPY,
    SEND_TO_NONE,
)
from exchangelib.properties import Attendee

from tests.ews.meetings import CANCELED_CLASS, REQUEST_CLASS
from tests.ews.server import EwsServer
from tests.ews.state import SentMessage
from tests.ews.values import Attendee as StoredAttendee
from tests.integration.ews_server.conftest import ALICE, BOB

pytestmark = pytest.mark.integration

CAROL = "carol@elsewhere.test"
START = EWSDateTime(2030, 6, 3, 10, 0, tzinfo=EWSTimeZone("UTC"))
PLAIN_START = datetime.datetime(2030, 6, 3, 10, 0, tzinfo=datetime.UTC)  # for the server's test API


def meeting(alice: Account, *attendees: str, send: str) -> CalendarItem:
    item = CalendarItem(
        account=alice, folder=alice.calendar, subject="Review, Q2", location="Room 1",
        start=START, end=START + datetime.timedelta(hours=1),
        required_attendees=[Attendee(mailbox=Mailbox(email_address=a)) for a in attendees],
    )  # fmt: skip
    item.save(send_meeting_invitations=send)
    return item


def calendar_part(sent: SentMessage) -> tuple[str, str]:
    """(METHOD parameter, iCalendar text) of a meeting message."""
    parsed = message_from_bytes(sent.mime, policy=default_policy)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert isinstance(part, Message)
    return str(part.get_param("method")), part.get_content()


def test_a_new_meeting_sends_each_attendee_a_request_and_keeps_a_copy(alice: Account, ews_server: EwsServer) -> None:
    meeting(alice, BOB, CAROL, send=SEND_TO_ALL_AND_SAVE_COPY)

    [sent] = ews_server.sent_messages
    assert (sent.sender, sorted(sent.recipients), sent.item_class) == (ALICE, [BOB, CAROL], REQUEST_CLASS)
    method, ical = calendar_part(sent)
    assert method == "REQUEST"
    assert "SUMMARY:Review\\, Q2" in ical and "DTSTART:20300603T100000Z" in ical
    assert f"ORGANIZER:mailto:{ALICE}" in ical and f"ATTENDEE;ROLE=REQ-PARTICIPANT:mailto:{BOB}" in ical
    [request] = ews_server.items(BOB, "inbox")  # Bob's mailbox is on this server; Carol's is not
    assert (request.item_class, request.subject) == (REQUEST_CLASS, "Review, Q2")
    assert [i.item_class for i in ews_server.items(ALICE, "sentitems")] == [REQUEST_CLASS]


def test_send_to_none_sends_nothing(alice: Account, ews_server: EwsServer) -> None:
    item = meeting(alice, BOB, send=SEND_TO_NONE)
    item.subject = "Moved"
    item.save(update_fields=["subject"], send_meeting_invitations=SEND_TO_NONE)
    item.delete(send_meeting_cancellations=SEND_TO_NONE)

    assert ews_server.sent_messages == [] and ews_server.items(BOB, "inbox") == []


def test_an_update_to_all_reaches_every_attendee_and_cancels_for_the_removed(
    alice: Account, ews_server: EwsServer
) -> None:
    item = meeting(alice, BOB, CAROL, send=SEND_TO_NONE)
    item.subject = "Review (moved)"
    item.required_attendees = [Attendee(mailbox=Mailbox(email_address=CAROL))]
    item.save(update_fields=["subject", "required_attendees"], send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)

    sent = {(m.item_class, m.recipients) for m in ews_server.sent_messages}
    assert sent == {(REQUEST_CLASS, (CAROL,)), (CANCELED_CLASS, (BOB,))}
    [cancellation] = ews_server.items(BOB, "inbox")
    assert (cancellation.item_class, cancellation.subject) == (CANCELED_CLASS, "Canceled: Review (moved)")


def test_an_update_to_changed_reaches_only_added_attendees(alice: Account, ews_server: EwsServer) -> None:
    item = meeting(alice, CAROL, send=SEND_TO_NONE)
    item.required_attendees = [Attendee(mailbox=Mailbox(email_address=a)) for a in (CAROL, BOB)]
    item.save(update_fields=["required_attendees"], send_meeting_invitations=SEND_ONLY_TO_CHANGED)

    assert [(m.item_class, m.recipients) for m in ews_server.sent_messages] == [(REQUEST_CLASS, (BOB,))]
    assert ews_server.items(ALICE, "sentitems") == []  # SendOnly...: no copy


def test_deleting_a_meeting_with_cancellations_tells_every_attendee(alice: Account, ews_server: EwsServer) -> None:
    item = meeting(alice, BOB, CAROL, send=SEND_TO_NONE)
    item.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY)

    [sent] = ews_server.sent_messages
    assert (sent.item_class, sorted(sent.recipients)) == (CANCELED_CLASS, [BOB, CAROL])
    method, ical = calendar_part(sent)
    assert method == "CANCEL" and "STATUS:CANCELLED" in ical
    assert ews_server.items(ALICE, "calendar") == []


def test_an_invitation_the_mailbox_received_sends_nothing(alice: Account, ews_server: EwsServer) -> None:
    """Only the organizer's copy of a meeting tells its attendees."""
    item_id = ews_server.create_calendar_item(
        ALICE, subject="Bob's meeting", start=PLAIN_START, end=PLAIN_START + datetime.timedelta(hours=1),
        organizer=BOB, required_attendees=[StoredAttendee(ALICE), StoredAttendee(CAROL)],
    )  # fmt: skip
    [item] = alice.fetch([(item_id, None)])
    item.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY)

    assert ews_server.sent_messages == []


def test_an_update_without_impersonation_acts_on_the_callers_mailbox_not_an_attendees(
    ews_account: Callable[..., Account], ews_server: EwsServer
) -> None:
    """As a delegate (no ExchangeImpersonation header), UpdateItem names no mailbox but its attendees': the item
    is still the caller's own."""
    alice = ews_account(ALICE, access_type=DELEGATE)
    created = meeting(alice, BOB, send=SEND_TO_NONE)
    [item] = alice.fetch([(created.id, None)])
    item.required_attendees = [Attendee(mailbox=Mailbox(email_address=a)) for a in (BOB, CAROL)]
    item.save(update_fields=["required_attendees"], send_meeting_invitations=SEND_TO_NONE)

    [stored] = ews_server.items(ALICE, "calendar")
    assert [a.email for a in stored.extra["required_attendees"]] == [BOB, CAROL]  # type: ignore[attr-defined]
