"""Meeting messages: what Exchange sends when an organizer's calendar item is created, updated or deleted.

A CreateItem, UpdateItem or DeleteItem of a calendar item says whether to tell the attendees
(SendMeetingInvitations, SendMeetingInvitationsOrCancellations, SendMeetingCancellations). Exchange then sends,
from the organizer's mailbox, a meeting request (item class IPM.Schedule.Meeting.Request) or a cancellation
(IPM.Schedule.Meeting.Canceled): MIME with a text/calendar part (iTIP METHOD:REQUEST or CANCEL, RFC 5546),
delivered to the attendees' Inboxes on this server and recorded in ``MailStore.sent``; the *AndSaveCopy modes
keep a copy in the organizer's Sent Items.

- SendOnlyToAll / SendToAllAndSaveCopy: every attendee gets the request (an update: the item as it is now);
  attendees an update removed get a cancellation.
- SendOnlyToChanged / SendToChangedAndSaveCopy (updates only): only attendees the update added (a request) or
  removed (a cancellation), as MS-OXWSMTGS defines them.
- SendToNone, an item without attendees, or one the mailbox does not organize (an invitation it received):
  nothing is sent.

Simplified: attendees' calendars do not get the tentative item Exchange adds, and iCalendar lines are not folded.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from tests.ews.calendar_shapes import ORGANIZER
from tests.ews.state import Item, Mailbox, MailStore
from tests.ews.values import Attendee, Body

REQUEST_CLASS = "IPM.Schedule.Meeting.Request"
CANCELED_CLASS = "IPM.Schedule.Meeting.Canceled"
TO_ALL = frozenset({"SendOnlyToAll", "SendToAllAndSaveCopy"})
TO_CHANGED = frozenset({"SendOnlyToChanged", "SendToChangedAndSaveCopy"})
SAVE_COPY = frozenset({"SendToAllAndSaveCopy", "SendToChangedAndSaveCopy"})
ROLES = {"required_attendees": "REQ-PARTICIPANT", "optional_attendees": "OPT-PARTICIPANT"}


def attendees(item: Item) -> dict[str, str]:
    """The item's attendees (lower-cased address -> iCalendar ROLE), resources as non-participants."""
    found: dict[str, str] = {}
    for field, role in (*ROLES.items(), ("resources", "NON-PARTICIPANT")):
        listed = item.extra.get(field)
        for attendee in listed if isinstance(listed, tuple) else ():
            if isinstance(attendee, Attendee) and attendee.email:
                found.setdefault(attendee.email.lower(), role)
    return found


def _organizes(item: Item) -> bool:
    return item.item_type == "CalendarItem" and not item.extra.get(ORGANIZER)


def created(store: MailStore, mailbox: Mailbox, item: Item, mode: str | None) -> None:
    """CreateItem with SendMeetingInvitations ``mode``."""
    if mode in TO_ALL and _organizes(item):
        _send(store, mailbox, item, list(attendees(item)), cancel=False, save=mode in SAVE_COPY)


def updated(store: MailStore, mailbox: Mailbox, before: Item, after: Item, mode: str | None) -> None:
    """UpdateItem with SendMeetingInvitationsOrCancellations ``mode``."""
    if mode not in TO_ALL | TO_CHANGED or not _organizes(after):
        return
    old, new = attendees(before), attendees(after)
    removed = [address for address in old if address not in new]
    invited = list(new) if mode in TO_ALL else [address for address in new if address not in old]
    save = mode in SAVE_COPY
    if invited:
        _send(store, mailbox, after, invited, cancel=False, save=save)
    if removed:
        _send(store, mailbox, after, removed, cancel=True, save=save)


def deleted(store: MailStore, mailbox: Mailbox, item: Item, mode: str | None) -> None:
    """DeleteItem with SendMeetingCancellations ``mode``."""
    if mode in TO_ALL and _organizes(item):
        _send(store, mailbox, item, list(attendees(item)), cancel=True, save=mode in SAVE_COPY)


def _send(store: MailStore, mailbox: Mailbox, item: Item, to: list[str], *, cancel: bool, save: bool) -> None:
    if not to:
        return
    subject = item.value("subject", str) or ""
    message = EmailMessage(policy=SMTP)
    message["From"] = mailbox.address
    message["To"] = ", ".join(to)
    message["Subject"] = f"Canceled: {subject}" if cancel else subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mailbox.address.rpartition("@")[2])
    body = item.value("body", Body)
    message.set_content(body.text if body is not None else "")
    method = "CANCEL" if cancel else "REQUEST"
    message.add_alternative(_calendar(mailbox, item, method), subtype="calendar", params={"method": method})
    sent_items = mailbox.folder("sentitems").folder_id if save else None
    store.send(mailbox, message.as_bytes(), to, sent_items, item_class=CANCELED_CLASS if cancel else REQUEST_CLASS)


def _calendar(mailbox: Mailbox, item: Item, method: str) -> str:
    """The iTIP object: one VEVENT with the item's UID, times, subject, organizer and attendees."""
    lines = [
        "BEGIN:VCALENDAR",
        f"METHOD:{method}",
        "PRODID:-//EWS test server//EN",
        "VERSION:2.0",
        "BEGIN:VEVENT",
        f"UID:{item.value('uid', str) or item.item_id}",
        f"SUMMARY:{_escape(item.value('subject', str) or '')}",
        *_times(item),
        f"ORGANIZER:mailto:{mailbox.address}",
        *(f"ATTENDEE;ROLE={role}:mailto:{address}" for address, role in attendees(item).items()),
        f"STATUS:{'CANCELLED' if method == 'CANCEL' else 'CONFIRMED'}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    location = item.value("location", str)
    if location:
        lines.insert(-2, f"LOCATION:{_escape(location)}")
    return "\r\n".join(lines) + "\r\n"


def _times(item: Item) -> Iterable[str]:
    for name, key in (("DTSTART", "start"), ("DTEND", "end")):
        value = item.value(key, datetime.datetime)
        if value is not None:
            yield f"{name}:{value.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}"


def _escape(text: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and line breaks are escaped."""
    for raw, escaped in (("\\", "\\\\"), (";", "\\;"), (",", "\\,"), ("\r\n", "\\n"), ("\n", "\\n")):
        text = text.replace(raw, escaped)
    return text
