"""The Graph test server's calendar, contacts and To Do: shapes, series, time zones, delta, extended properties."""

from __future__ import annotations

from typing import Any

import pytest

from sync.mail.errors import PermanentMailError
from sync.mail.graph.client import BatchRequest, GraphClient
from sync.mail.graph.errors import DeltaExpired, GraphThrottled
from tests.graph.server import GraphServer

pytestmark = pytest.mark.integration

STAMP = "String {c11ff724-aa03-4555-9952-8fa248a11c3e} Name External ID"
EXPAND = {"$expand": f"singleValueExtendedProperties($filter=id eq '{STAMP}')"}
WINDOW = {"startDateTime": "2026-01-01T00:00:00", "endDateTime": "2028-01-01T00:00:00"}
PAGE_OF_TWO = {"Prefer": "odata.maxpagesize=2"}


def user(mailbox: str) -> str:
    return f"/users/{mailbox}"


def event(
    subject: str, start: str = "2027-03-01T09:00:00", end: str = "2027-03-01T10:00:00", **more: Any
) -> dict[str, Any]:
    zone = more.pop("zone", "W. Europe Standard Time")
    return {
        "subject": subject,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        **more,
    }


def rounds(client: GraphClient, start: str, params: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], str]:
    items: list[dict[str, Any]] = []
    link = ""
    for page in client.pages(start, params, PAGE_OF_TWO):
        items += page["value"]
        link = page.get("@odata.deltaLink", link)
    return items, link


def test_an_event_keeps_its_zone_reads_in_utc_or_the_preferred_zone_and_its_stamp_only_when_expanded(
    client: GraphClient, mailbox: str
) -> None:
    created = client.post(
        f"{user(mailbox)}/events",
        event("Planning", singleValueExtendedProperties=[{"id": STAMP, "value": "crm:4201:abc"}]),
    )
    assert created is not None and created["type"] == "singleInstance"

    plain = client.get(f"{user(mailbox)}/events/{created['id']}")
    expanded = client.get(f"{user(mailbox)}/events/{created['id']}", EXPAND)
    pacific = client.get(
        f"{user(mailbox)}/events/{created['id']}", headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'}
    )

    assert plain["originalStartTimeZone"] == "W. Europe Standard Time"
    assert plain["start"] == {"dateTime": "2027-03-01T08:00:00.0000000", "timeZone": "UTC"}
    assert pacific["start"] == {"dateTime": "2027-03-01T00:00:00.0000000", "timeZone": "Pacific Standard Time"}
    assert "singleValueExtendedProperties" not in plain
    assert expanded["singleValueExtendedProperties"] == [{"id": STAMP, "value": "crm:4201:abc"}]
    found = client.get(
        f"{user(mailbox)}/events",
        {"$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{STAMP}' and ep/value eq 'crm:4201:abc')"},
    )
    assert [e["id"] for e in found["value"]] == [created["id"]]


def test_an_all_day_event_must_start_at_midnight_and_unknown_properties_are_refused(
    client: GraphClient, mailbox: str
) -> None:
    with pytest.raises(PermanentMailError, match="midnight"):
        client.post(f"{user(mailbox)}/events", event("Off", isAllDay=True))
    day = client.post(
        f"{user(mailbox)}/events", event("Off", "2027-03-01T00:00:00", "2027-03-02T00:00:00", isAllDay=True)
    )
    assert day is not None and day["isAllDay"] is True
    with pytest.raises(PermanentMailError, match="RequestBodyRead") as refused:
        client.post(f"{user(mailbox)}/events", event("Odd", colour="red"))
    assert refused.value.code == "RequestBodyRead"


def test_a_series_shows_as_occurrences_in_calendar_view_delta_and_an_edited_one_becomes_an_exception(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    weekly = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday"]},
        "range": {"type": "numbered", "startDate": "2027-03-01", "numberOfOccurrences": 4},
    }
    series = client.post(f"{user(mailbox)}/events", event("Stand-up", recurrence=weekly))
    assert series is not None and series["type"] == "seriesMaster"

    occurrences, link = rounds(client, f"{user(mailbox)}/calendarView/delta", WINDOW)
    assert [(o["type"], o["seriesMasterId"], o["start"]["dateTime"][:10]) for o in occurrences] == [
        ("occurrence", series["id"], day) for day in ("2027-03-01", "2027-03-03", "2027-03-08", "2027-03-10")
    ]
    instances = client.get(f"{user(mailbox)}/events/{series['id']}/instances", WINDOW)["value"]
    assert [i["id"] for i in instances] == [o["id"] for o in occurrences]

    client.patch(f"{user(mailbox)}/events/{instances[1]['id']}", {"subject": "Stand-up (moved)"})
    graph_server.remove(mailbox, instances[2]["id"])
    changed, _ = rounds(client, link)

    kinds = {c["id"]: (c.get("type"), c.get("subject"), "@removed" in c) for c in changed}
    assert kinds[instances[1]["id"]] == ("exception", "Stand-up (moved)", False)
    assert kinds[instances[2]["id"]] == (None, None, True)
    assert kinds[instances[0]["id"]] == ("occurrence", "Stand-up", False)


def test_a_deleted_series_comes_back_as_its_removed_occurrences(client: GraphClient, mailbox: str) -> None:
    daily = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "endDate", "startDate": "2027-03-01", "endDate": "2027-03-02"},
    }
    series = client.post(f"{user(mailbox)}/events", event("Workshop", recurrence=daily))
    assert series is not None
    occurrences, link = rounds(client, f"{user(mailbox)}/calendarView/delta", WINDOW)

    client._request("DELETE", f"{user(mailbox)}/events/{series['id']}")
    removed, _ = rounds(client, link)

    assert sorted(r["id"] for r in removed if "@removed" in r) == sorted(o["id"] for o in occurrences)


def test_calendar_view_delta_needs_a_window_and_refuses_expand(client: GraphClient, mailbox: str) -> None:
    with pytest.raises(PermanentMailError, match="StartDateTime"):
        client.get(f"{user(mailbox)}/calendarView/delta")
    with pytest.raises(PermanentMailError, match="expand"):
        client.get(f"{user(mailbox)}/calendarView/delta", {**WINDOW, **EXPAND})


def test_cancel_and_delete_by_the_organizer_both_tell_the_attendees_only_cancel_with_a_comment(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    attendees = [{"type": "required", "emailAddress": {"address": "bob@example.test"}}]
    first = client.post(f"{user(mailbox)}/events", event("Review", attendees=attendees))
    second = client.post(f"{user(mailbox)}/events", event("Retro", attendees=attendees))
    assert first is not None and second is not None

    client.post(f"{user(mailbox)}/events/{first['id']}/cancel", {"comment": "Called off"})
    client._request("DELETE", f"{user(mailbox)}/events/{second['id']}")

    assert graph_server.invitations(mailbox) == [
        (first["id"], "invitation"), (second["id"], "invitation"), (first["id"], "cancellation:Called off"),
        (second["id"], "cancellation:"),
    ]  # fmt: skip
    assert graph_server.pim_items(mailbox, "event") == []


def test_contacts_delta_pages_and_reports_a_delete(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    ids = [graph_server.add_contact(mailbox, surname=f"Clark {n}") for n in range(3)]
    listed, link = rounds(client, f"{user(mailbox)}/contacts/delta", {"$select": "surname,categories"})
    assert [c["surname"] for c in listed] == ["Clark 0", "Clark 1", "Clark 2"] and "givenName" not in listed[0]

    client.patch(f"{user(mailbox)}/contacts/{ids[0]}", {"jobTitle": "Buyer"})
    graph_server.remove(mailbox, ids[1])
    changed, _ = rounds(client, link)

    assert [(c["id"], "@removed" in c) for c in changed] == [(ids[0], False), (ids[1], True)]


def test_todo_tasks_complete_themselves_carry_linked_resources_and_have_a_delta(
    client: GraphClient, mailbox: str
) -> None:
    [default] = [
        t for t in client.get(f"{user(mailbox)}/todo/lists")["value"] if t["wellknownListName"] == "defaultList"
    ]
    tasks = f"{user(mailbox)}/todo/lists/{default['id']}/tasks"
    link_to = [{"applicationName": "CRM", "externalId": "crm:4212:t1", "displayName": "Send the quote"}]
    created = client.post(tasks, {"title": "Send the quote", "linkedResources": link_to})
    assert created is not None
    _, delta_link = rounds(client, f"{tasks}/delta")

    client.patch(f"{tasks}/{created['id']}", {"status": "completed"})
    [changed], _ = rounds(client, delta_link)
    expanded = client.get(f"{tasks}/{created['id']}", {"$expand": "linkedResources"})

    assert changed["status"] == "completed" and changed["completedDateTime"]["timeZone"] == "UTC"
    assert [r["externalId"] for r in expanded["linkedResources"]] == ["crm:4212:t1"]
    assert changed["@odata.etag"] != created["@odata.etag"]


def test_the_calendar_folder_keeps_extended_properties(client: GraphClient, mailbox: str) -> None:
    org = "String {5b0f6a1e-3c2d-4e8f-9a7b-61d4c2e8f0a3} Name ActSyncOrganizationId"
    expand = {"$expand": f"singleValueExtendedProperties($filter=id eq '{org}')"}
    assert "singleValueExtendedProperties" not in client.get(f"{user(mailbox)}/calendar", expand)

    client.patch(f"{user(mailbox)}/calendar", {"singleValueExtendedProperties": [{"id": org, "value": "org-1"}]})

    assert client.get(f"{user(mailbox)}/calendar", expand)["singleValueExtendedProperties"][0]["value"] == "org-1"


def test_pim_routes_throttle_with_retry_after_expire_links_and_batch(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    _, link = rounds(client, f"{user(mailbox)}/contacts/delta")
    graph_server.fail_next("contact.create", 429, retry_after_s=7)
    with pytest.raises(GraphThrottled) as throttled:
        client.post(f"{user(mailbox)}/contacts", {"surname": "Lee"})
    assert throttled.value.retry_after_seconds == 7
    graph_server.fail_next("event.get", 503, retry_after_s=2)
    answers = client.batch(
        [
            BatchRequest("POST", f"{user(mailbox)}/contacts", {"surname": "Lee"}),
            BatchRequest("GET", f"{user(mailbox)}/events/nope"),
        ]
    )
    assert [a.status for a in answers] == [201, 503]
    graph_server.expire_delta_links(mailbox)
    with pytest.raises(DeltaExpired):
        client.get(link)
