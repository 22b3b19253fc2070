"""Signing in to the console with a one-time link, sessions, CSRF and the roles, over HTTP against the real app
and the real session table in Azurite."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from azure.data.tables import TableClient
from fastapi.testclient import TestClient

from sync.api.auth import APPROVER_ROLE
from sync.console.access import COOKIE
from sync.console.local_link import link_url
from sync.console.sessions import LINK_LIFETIME, SESSION_LIFETIME, SessionStore
from sync.model.fields import utcnow
from sync.store.account import StorageAccount
from sync.store.names import Table, table_name
from tests.integration.console.conftest import ADMINISTRATOR, READER, ConsoleWorld, sign_in

pytestmark = pytest.mark.integration


def test_a_link_opens_a_session_once(client: TestClient, console_world: ConsoleWorld) -> None:
    token = console_world.console.sessions.mint_link("local:once", "Ada", ADMINISTRATOR)
    first = client.get(link_url("", token))
    assert first.status_code == 200 and "Signed in" in first.text
    cookie = first.headers["set-cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/console" in cookie and "Secure" not in cookie  # plain http on loopback
    assert client.get("/console/mailboxes").status_code == 200

    with TestClient(console_world.app) as other:
        again = other.get(link_url("", token))
        assert again.status_code == 401 and "already used" in again.text
        assert COOKIE not in again.headers.get("set-cookie", "")


def test_the_cookie_is_secure_over_https(console_world: ConsoleWorld) -> None:
    with TestClient(console_world.app, base_url="https://console.example") as https:
        token = console_world.console.sessions.mint_link("local:tls", "Ada", ADMINISTRATOR)
        assert "Secure" in https.get(link_url("", token)).headers["set-cookie"]


def test_a_link_expires(console_world: ConsoleWorld) -> None:
    table = console_world.store.account.table(Table.CONSOLE_SESSIONS)
    now = utcnow()
    minted = SessionStore(table, console_world.console.sessions.box, lambda: now)
    token = minted.mint_link("local:late", "Ada", ADMINISTRATOR)
    later = SessionStore(table, minted.box, lambda: now + LINK_LIFETIME + timedelta(seconds=1))
    assert later.redeem_link(token) is None
    assert minted.redeem_link(token) is None  # expired rows are deleted when found


def test_a_session_expires(console_world: ConsoleWorld) -> None:
    table = console_world.store.account.table(Table.CONSOLE_SESSIONS)
    now = utcnow()
    sessions = SessionStore(table, console_world.console.sessions.box, lambda: now)
    cookie, _ = sessions.open_session("local:s", "Ada", ADMINISTRATOR, "link")
    assert sessions.session(cookie) is not None
    later = SessionStore(table, sessions.box, lambda: now + SESSION_LIFETIME)
    assert later.session(cookie) is None


def test_only_a_digest_of_the_cookie_is_stored(console_world: ConsoleWorld) -> None:
    cookie, _ = console_world.console.sessions.open_session("local:d", "Ada", ADMINISTRATOR, "link")
    rows = console_world.store.account.table(Table.CONSOLE_SESSIONS).query_entities("PartitionKey eq 'session'")
    assert all(cookie not in str(dict(row)) for row in rows)


def test_without_a_session_the_console_asks_to_sign_in(client: TestClient) -> None:
    answer = client.get("/console/mailboxes", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/signin"
    page = client.get("/console/signin")
    assert page.status_code == 200 and "make dev" in page.text and "Sign in with Microsoft" not in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_a_forged_cookie_is_not_a_session(client: TestClient) -> None:
    client.cookies.set(COOKIE, "made-up", path="/console")
    assert client.get("/console/mailboxes", follow_redirects=False).status_code == 303


def test_a_change_without_the_csrf_token_is_refused(client: TestClient, console_world: ConsoleWorld) -> None:
    sign_in(client, console_world)
    mailbox_id = console_world.mailboxes["alice@example.test"]
    for token in ("", "someone-elses-token"):
        answer = client.post(
            "/console/mailboxes/bulk", data={"action": "sync-now", "mailbox": mailbox_id, "csrf_token": token}
        )
        assert answer.status_code == 403 and "CSRF" in answer.text


def test_a_reader_sees_no_action_and_is_refused_one(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world, READER)
    mailbox_id = console_world.mailboxes["alice@example.test"]
    grid = client.get("/console/mailboxes").text
    page = client.get(f"/console/mailboxes/{mailbox_id}").text
    for html in (grid, page):
        buttons = set(re.findall(r"<button[^>]*>([^<]*)</button>", html))
        assert buttons <= {"Sign out", "Filter"}, buttons  # ending its own session and filtering: no action
        assert 'name="mailbox"' not in html and '<select name="incoming_method"' not in html
    for action in ("test-and-enable", "sync-now", "approve", "disable"):
        form = {"action": action, "mailbox": mailbox_id, "direction": "incoming", "csrf_token": csrf}
        refused = client.post("/console/mailboxes/bulk", data=form)
        assert refused.status_code == 403, action
    refused = client.post(f"/console/mailboxes/{mailbox_id}/test-and-enable", data={"csrf_token": csrf})
    assert refused.status_code == 403 and "Sync.Admin" in refused.text


def test_signing_out_ends_the_session(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world)
    assert client.post("/console/signout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert client.get("/console/mailboxes", follow_redirects=False).status_code == 303


def test_a_form_over_the_size_limit_is_refused(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world)
    big = "x" * (console_world.settings.api_max_body_bytes + 1)
    answer = client.post("/console/mailboxes/bulk", data={"csrf_token": csrf, "filler": big})
    assert answer.status_code == 413


def test_the_api_still_needs_its_key(client: TestClient) -> None:
    assert client.get("/api/mailboxes").status_code == 401


def test_an_approver_approves_and_changes_nothing_else(client: TestClient, console_world: ConsoleWorld) -> None:
    csrf = sign_in(client, console_world, frozenset({APPROVER_ROLE}))
    grid = client.get("/console/mailboxes").text
    buttons = set(re.findall(r"<button[^>]*>([^<]*)</button>", grid))
    assert buttons == {"Sign out", "Filter", "Approve"}
    mailbox_id = console_world.mailboxes["bob@example.test"]
    approve = {"action": "approve", "mailbox": mailbox_id, "csrf_token": csrf}
    assert client.post("/console/mailboxes/bulk", data=approve).status_code == 200
    assert client.post("/console/mailboxes/bulk", data={**approve, "action": "sync-now"}).status_code == 403


@pytest.fixture
def own_sessions_table(console_world: ConsoleWorld) -> Iterator[TableClient]:
    """A sessions table of this test's own: its clock sweeps rows of other tests' clocks otherwise."""
    account = StorageAccount(console_world.settings.model_copy(update={"storage_prefix": "x" + uuid.uuid4().hex[:8]}))
    table = account.tables.create_table(table_name(account.prefix, Table.CONSOLE_SESSIONS))
    yield table
    table.delete_table()


def test_rows_nobody_comes_back_for_are_removed_by_later_writes(
    own_sessions_table: TableClient, console_world: ConsoleWorld
) -> None:
    """A closed browser's session, an unused link, an abandoned Entra ID sign-in: never read again, they go when
    a later sign-in writes, and only once expired (the clock is injected)."""
    start = utcnow()
    at = [start]
    sessions = SessionStore(own_sessions_table, console_world.console.sessions.box, lambda: at[0])
    sessions.open_session("local:closed", "Ada", ADMINISTRATOR, "link")
    sessions.mint_link("local:unused", "Ada", ADMINISTRATOR)
    sessions.save_signin("abandoned-state", {"flow": "x"})
    at[0] = start + SESSION_LIFETIME - timedelta(hours=1)
    kept, _ = sessions.open_session("local:recent", "Bob", READER, "link")  # the sign-in's 10 minutes are over
    assert kept_partitions(own_sessions_table) == ["link", "session", "session"]

    at[0] = start + max(SESSION_LIFETIME, LINK_LIFETIME) + timedelta(seconds=1)
    sessions.open_session("local:later", "Cy", READER, "link")
    assert kept_partitions(own_sessions_table) == ["session", "session"]
    assert sessions.session(kept) is not None
    assert len(list(own_sessions_table.query_entities("PartitionKey eq 'expiry'"))) == 2  # one per live row


def kept_partitions(table: TableClient) -> list[str]:
    return sorted(str(row["PartitionKey"]) for row in table.list_entities() if row["PartitionKey"] != "expiry")
