"""Test & Enable connects only where the egress policy allows: no metadata service, no loopback by default.

The refused destinations are real addresses: a listener on 127.0.0.1 shows that no connection was even
attempted (its backlog stays empty), and 169.254.169.254 is refused before any packet leaves.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devstack.ports import LOOPBACK
from sync.mail import egress
from sync.model.options import ServerType
from tests.integration.api.conftest import MailWorld, created

pytestmark = pytest.mark.integration


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server((LOOPBACK, 0))
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()


def _connections(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def _profile(admin: TestClient, host: str, port: int) -> dict[str, Any]:
    body = {
        "name": f"Points at {host}",
        "server_type": int(ServerType.IMAP_SMTP),
        "incoming_server_location": host,
        "incoming_port": port,
        "outgoing_server_location": host,
        "outgoing_port": port,
        "timeout_mailbox_connection_after_ms": 2000,
    }
    return created(admin.post("/api/profiles", json=body))


def _codes(result: dict[str, Any]) -> dict[str, str]:
    return {p["workload"]: p["code"] for p in result["problems"]}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_without_the_opt_in(
    admin: TestClient, mail_world: MailWorld, listener: socket.socket, host: str
) -> None:
    profile = _profile(admin, host, listener.getsockname()[1])
    mailbox_id = mail_world.new_user(admin, profile_id=profile["id"])
    with egress.policy_in_effect(egress.EgressPolicy()):
        result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert _codes(result) == {"incoming": "DestinationNotAllowed", "outgoing": "DestinationNotAllowed"}
    assert _connections(listener) == 0
    texts = [a["text"] for a in admin.get("/api/alerts", params={"mailbox_id": mailbox_id}).json()["items"]]
    assert any("a loopback address" in text for text in texts)


def test_the_metadata_service_is_refused_even_with_every_opt_in(admin: TestClient, mail_world: MailWorld) -> None:
    profile = _profile(admin, "169.254.169.254", 80)
    mailbox_id = mail_world.new_user(admin, profile_id=profile["id"])
    with egress.policy_in_effect(egress.EgressPolicy(allow_private=True, allow_loopback=True)):
        result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert _codes(result) == {"incoming": "DestinationNotAllowed", "outgoing": "DestinationNotAllowed"}


def test_the_loopback_opt_in_connects(admin: TestClient, mail_world: MailWorld, listener: socket.socket) -> None:
    profile = _profile(admin, LOOPBACK, listener.getsockname()[1])
    mailbox_id = mail_world.new_user(admin, profile_id=profile["id"])
    with egress.policy_in_effect(egress.EgressPolicy(allow_loopback=True)):
        result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert "DestinationNotAllowed" not in _codes(result).values()
    assert _connections(listener) >= 1  # it got through; the silent listener then timed it out


def test_an_ews_url_on_loopback_is_refused_without_the_opt_in(
    admin: TestClient, mail_world: MailWorld, listener: socket.socket
) -> None:
    body = {
        "name": "EWS on loopback",
        "server_type": int(ServerType.EXCHANGE_SERVER),
        "default_server_location": f"https://localhost:{listener.getsockname()[1]}/EWS/Exchange.asmx",
        "incoming_credential_retrieval": 1,
        "incoming_username": "svc@example.test",
        "incoming_password": "Svc-Passw0rd!",
        "timeout_mailbox_connection_after_ms": 2000,
    }
    profile = created(admin.post("/api/profiles", json=body))
    mailbox_id = mail_world.new_user(admin, profile_id=profile["id"])
    with egress.policy_in_effect(egress.EgressPolicy()):
        result = admin.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
    assert _codes(result)["incoming"] == "DestinationNotAllowed"
    assert _connections(listener) == 0
