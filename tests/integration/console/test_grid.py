"""The Mailboxes grid over HTTP on the real store: filters, search, paging, and the bulk actions with one result
per mailbox."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from devstack.seed import DEMO_FORWARD, DEMO_QUEUE, DEMO_USERS
from sync.console.grid import GridFilter, grid_page
from sync.model.fields import utcnow
from tests.integration.console.conftest import WRONG_PASSWORD_ADDRESS, ConsoleWorld, sign_in

pytestmark = pytest.mark.integration


def addresses(html: str) -> set[str]:
    return set(re.findall(r'<td data-label="Address">([^<]*)</td>', html))


def test_the_grid_filters_by_state(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world)
    failing = addresses(client.get("/console/mailboxes", params={"state": "failing"}).text)
    assert WRONG_PASSWORD_ADDRESS in failing and "alice@example.test" not in failing
    everyone = addresses(client.get("/console/mailboxes", params={"state": "no-such-state"}).text)
    assert everyone >= {*DEMO_USERS, DEMO_QUEUE[0], DEMO_FORWARD}  # an unknown state filters nothing


def test_the_grid_searches_by_address_or_owner(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world)
    assert addresses(client.get("/console/mailboxes", params={"q": "ali"}).text) == {"alice@example.test"}
    assert addresses(client.get("/console/mailboxes", params={"q": "Bob B"}).text) == {"bob@example.test"}
    assert addresses(client.get("/console/mailboxes", params={"q": "nobody-has-this"}).text) == set()


def test_the_grid_filters_by_profile(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world)
    profile_id = console_world.store.get_mailbox(console_world.mailboxes["alice@example.test"]).email_server_profile_id
    assert "alice@example.test" in addresses(client.get("/console/mailboxes", params={"profile": profile_id}).text)
    assert addresses(client.get("/console/mailboxes", params={"profile": "no-such-profile"}).text) == set()


def test_errors_only_shows_mailboxes_with_a_sync_error(console_world: ConsoleWorld) -> None:
    found = grid_page(console_world.store, GridFilter(errors_only=True), utcnow(), None)
    assert all(row.error for row in found.rows)


def test_the_grid_pages_with_the_storage_continuation(client: TestClient, console_world: ConsoleWorld) -> None:
    first = grid_page(console_world.store, GridFilter(), utcnow(), None, page_size=2)
    assert len(first.rows) == 2 and first.continuation
    second = grid_page(console_world.store, GridFilter(), utcnow(), first.continuation, page_size=2)
    assert {r.mailbox_id for r in first.rows}.isdisjoint({r.mailbox_id for r in second.rows})
    sign_in(client, console_world)
    page = client.get("/console/mailboxes", params={"page": first.continuation})
    assert page.status_code == 200 and first.rows[0].address not in addresses(page.text)


def test_bulk_actions_answer_per_mailbox(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world)
    alice, wrong = console_world.mailboxes["alice@example.test"], console_world.mailboxes[WRONG_PASSWORD_ADDRESS]
    tested = client.post(
        "/console/mailboxes/bulk", data={"csrf_token": csrf, "action": "test-and-enable", "mailbox": [alice, wrong]}
    )
    items = re.findall(
        r'<li class="(ok|problem)"><a href="/console/mailboxes/([^"]+)">[^<]*</a>: ([^<]*)</li>', tested.text
    )
    outcome = {mailbox_id: (tone, text) for tone, mailbox_id, text in items}
    assert outcome[alice][0] == "ok" and "succeeded" in outcome[alice][1]
    assert outcome[wrong][0] == "problem" and "Test &amp; Enable failed: incoming:" in outcome[wrong][1]

    synced = client.post("/console/mailboxes/bulk", data={"csrf_token": csrf, "action": "sync-now", "mailbox": alice})
    assert "incoming due now" in synced.text

    off = {"csrf_token": csrf, "action": "disable", "direction": "outgoing", "mailbox": alice}
    assert "outgoing disabled" in client.post("/console/mailboxes/bulk", data=off).text
    assert console_world.store.get_mailbox(alice).enabled_for_outgoing is False
    on = {**off, "action": "enable"}
    assert "outgoing enabled" in client.post("/console/mailboxes/bulk", data=on).text
    assert console_world.store.get_mailbox(alice).enabled_for_outgoing is True

    approved = client.post("/console/mailboxes/bulk", data={"csrf_token": csrf, "action": "approve", "mailbox": alice})
    assert "approved" in approved.text

    unknown = client.post("/console/mailboxes/bulk", data={"csrf_token": csrf, "action": "sync-now", "mailbox": "nope"})
    assert unknown.status_code == 200 and '<li class="problem">' in unknown.text  # one bad id is its own result


def test_bulk_refuses_what_it_cannot_do(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world)
    alice = console_world.mailboxes["alice@example.test"]
    assert (
        client.post(
            "/console/mailboxes/bulk", data={"csrf_token": csrf, "action": "explode", "mailbox": alice}
        ).status_code
        == 400
    )
    assert client.post("/console/mailboxes/bulk", data={"csrf_token": csrf, "action": "sync-now"}).status_code == 400
    sideways = {"csrf_token": csrf, "action": "enable", "direction": "sideways", "mailbox": alice}
    assert client.post("/console/mailboxes/bulk", data=sideways).status_code == 400
    too_many = {"csrf_token": csrf, "action": "sync-now", "mailbox": [str(i) for i in range(101)]}
    assert client.post("/console/mailboxes/bulk", data=too_many).status_code == 413


def test_settings_are_saved_through_the_apis_validation(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world)
    mailbox_id = console_world.mailboxes[DEMO_QUEUE[0]]
    stored = console_world.store.get_mailbox(mailbox_id)
    form = {
        "csrf_token": csrf, "name": stored.name, "email_server_profile_id": stored.email_server_profile_id or "",
        "incoming_method": "server_side_sync", "outgoing_method": "server_side_sync", "act_method": "none",
        "username": stored.username or "", "enabled_for_incoming": "on", "enabled_for_outgoing": "on",
        "allow_credentials_for_email_processing": "on",
    }  # fmt: skip
    saved = client.post(f"/console/mailboxes/{mailbox_id}/settings", data={**form, "name": "Support desk"})
    assert saved.status_code == 200 and "settings saved" in saved.text
    changed = console_world.store.get_mailbox(mailbox_id)
    assert changed.name == "Support desk" and changed.password == stored.password  # a blank password is kept
    refused = client.post(
        f"/console/mailboxes/{mailbox_id}/settings", data={**form, "incoming_method": "carrier_pigeon"}
    )
    assert 'id="problems"' in refused.text and "incoming_method" in refused.text
    client.post(f"/console/mailboxes/{mailbox_id}/settings", data=form)  # the name back, for the other tests


def test_replay_with_nothing_quarantined_says_so(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world)
    mailbox_id = console_world.mailboxes["alice@example.test"]
    answer = client.post(f"/console/mailboxes/{mailbox_id}/quarantine/replay", data={"csrf_token": csrf})
    assert answer.status_code == 200 and "nothing was quarantined" in answer.text


def test_an_unknown_mailbox_is_404(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world)
    assert client.get("/console/mailboxes/no-such-mailbox").status_code == 404


def test_an_outgoing_only_mailbox_is_judged_by_the_directions_it_uses(
    client: TestClient, console_world: ConsoleWorld
) -> None:
    """Bob's incoming email comes through the forward mailbox: his own incoming is not used, and his mailbox's
    word (the grid's row tone, the health API, the state filter) is his working outgoing email's, not disabled."""
    bob = console_world.mailboxes["bob@example.test"]
    with console_world.api() as api:
        health = api.get(f"/api/mailboxes/{bob}/health").json()
        listed = {
            m["mailbox_id"]: m for m in api.get("/api/mailboxes/health", params={"state": "healthy"}).json()["items"]
        }
    assert health["state"] == "healthy" and listed[bob]["state"] == "healthy"
    assert (health["incoming"], health["outgoing"]) == ("not_used", "healthy")
    row = next(r for r in grid_page(console_world.store, GridFilter(search="bob@"), utcnow(), None).rows)
    assert row.health == "healthy"
    sign_in(client, console_world)
    assert "bob@example.test" in addresses(client.get("/console/mailboxes", params={"state": "healthy"}).text)
    assert "bob@example.test" not in addresses(client.get("/console/mailboxes", params={"state": "disabled"}).text)
