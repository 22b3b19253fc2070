"""Addresses of users, queues, mailboxes and records follow the mailbox syntax; lookalikes are refused."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

REFUSED = [
    "postmaster,x@evil.test",  # became RCPT TO:<postmaster>
    "ad\u202emin@example.test",  # right-to-left override
    "ad\u200bmin@example.test",  # zero-width space
    "admin\x00@example.test",
    "admin@example.test\r\nBcc: x@evil.test",
]


@pytest.mark.parametrize("address", REFUSED)
def test_a_user_address_must_be_a_mailbox(admin: TestClient, address: str) -> None:
    response = admin.post("/api/users", json={"full_name": "Mallory", "internal_email_address": address})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.internal_email_address"


@pytest.mark.parametrize("address", REFUSED)
def test_a_queue_address_must_be_a_mailbox(admin: TestClient, address: str) -> None:
    response = admin.post("/api/queues", json={"name": "Q", "email_address": address})
    assert response.status_code == 422


@pytest.mark.parametrize("address", REFUSED)
def test_a_record_address_must_be_a_mailbox(admin: TestClient, address: str) -> None:
    response = admin.post("/api/contacts", json={"last_name": "Doe", "email_address2": address})
    assert response.status_code == 422


def test_an_internationalized_address_is_kept(admin: TestClient) -> None:
    response = admin.post("/api/contacts", json={"last_name": "Müller", "email_address1": "jörg@bücher.example"})
    assert response.status_code == 201, response.text
    assert response.json()["email_address1"] == "jörg@bücher.example"
