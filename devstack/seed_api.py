"""The demo organization created through the admin API, as an administrator would set it up.

Same organization as :mod:`devstack.seed` (which writes through the services directly, for tests): an
IMAP/SMTP profile on the local servers made the default, Alice (tracks replies), Bob (tracks customers,
mail arrives through the forward mailbox), the Support queue (tracks all), a forward mailbox, two
accounts, two contacts and a lead. Every mailbox is approved and given its credentials.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from devstack.seed import DEMO_FILTERS, DEMO_FORWARD, DEMO_INCOMING, DEMO_PASSWORD, DEMO_QUEUE, DEMO_USERS
from sync.api.readable import option_name


class ApiError(RuntimeError):
    pass


def _ok(response: Any, *expected: int) -> dict[str, Any]:
    if response.status_code not in (expected or (200, 201)):
        raise ApiError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def seed_through_api(api: TestClient, *, mail_host: str, imap_port: int, smtp_port: int) -> dict[str, Any]:
    """Create the organization; returns the ids the demo needs (profile, users, queue, mailboxes, records)."""
    profile = _ok(
        api.post(
            "/api/profiles",
            json={
                "name": "Local Dovecot (IMAP/SMTP)",
                "server_type": "imap_smtp",
                "incoming_server_location": mail_host,
                "incoming_port": imap_port,
                "incoming_tls": "implicit",
                "outgoing_server_location": mail_host,
                "outgoing_port": smtp_port,
                "outgoing_tls": "starttls",
                "timeout_mailbox_connection_after_ms": 10_000,
            },
        )
    )
    _ok(api.patch("/api/organization", json={"default_email_server_profile_id": profile["id"]}))
    ids: dict[str, Any] = {"profile": profile["id"], "users": {}, "mailboxes": {}, "records": {}}
    for address, name in DEMO_USERS.items():
        user = _ok(
            api.post(
                "/api/users",
                json={
                    "full_name": name,
                    "internal_email_address": address,
                    "incoming_filtering_method": option_name(DEMO_FILTERS[address]),
                },
            )
        )
        ids["users"][address] = user["id"]
        ids["mailboxes"][address] = user["default_mailbox_id"]
        if address in DEMO_INCOMING:
            _ok(
                api.patch(
                    f"/api/mailboxes/{user['default_mailbox_id']}",
                    json={"incoming_method": option_name(DEMO_INCOMING[address])},
                )
            )
    queue = _ok(api.post("/api/queues", json={"name": DEMO_QUEUE[1], "email_address": DEMO_QUEUE[0]}))
    ids["queue"] = queue["id"]
    ids["mailboxes"][DEMO_QUEUE[0]] = queue["default_mailbox_id"]
    forward = _ok(
        api.post(
            "/api/mailboxes",
            json={
                "name": "Forwarded mail collector",
                "email_address": DEMO_FORWARD,
                "email_server_profile_id": profile["id"],
            },
        )
    )
    ids["mailboxes"][DEMO_FORWARD] = forward["id"]
    for address, mailbox_id in ids["mailboxes"].items():
        _ok(api.post(f"/api/mailboxes/{mailbox_id}/approve"))
        _ok(
            api.patch(
                f"/api/mailboxes/{mailbox_id}",
                json={
                    "username": address,
                    "password": DEMO_PASSWORD,
                    "allow_credentials_for_email_processing": True,
                },
            )
        )
    fabrikam = _ok(api.post("/api/accounts", json={"name": "Fabrikam", "email_address1": "info@fabrikam.test"}))
    contoso = _ok(api.post("/api/accounts", json={"name": "Contoso", "email_address1": "hello@contoso.test"}))
    records = {
        "fabrikam": fabrikam["id"],
        "contoso": contoso["id"],
        "carol": _ok(
            api.post(
                "/api/contacts",
                json={
                    "first_name": "Carol",
                    "last_name": "Clark",
                    "email_address1": "carol@fabrikam.test",
                    "parent_account_id": fabrikam["id"],
                },
            )
        )["id"],
        "dan": _ok(
            api.post(
                "/api/contacts",
                json={
                    "first_name": "Dan",
                    "last_name": "Diaz",
                    "email_address1": "dan@contoso.test",
                    "parent_account_id": contoso["id"],
                },
            )
        )["id"],
        "erin": _ok(
            api.post(
                "/api/leads",
                json={
                    "first_name": "Erin",
                    "last_name": "Evans",
                    "company_name": "Northwind",
                    "email_address1": "erin@northwind.test",
                },
            )
        )["id"],
    }
    ids["records"] = records
    return ids
