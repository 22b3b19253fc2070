"""R-PROV-5: one mailbox per address. A second user, queue or forward mailbox with an address in use is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sync.errors import AlreadyExists
from sync.model import Mailbox
from sync.model.options import ActDeliveryMethod, OutgoingDeliveryMethod
from sync.store import Store
from sync.store.mailbox_addresses import CLAIM_GRACE, AddressInUse, MailboxAddresses
from sync.store.names import Table
from tests.integration.api.conftest import created

pytestmark = pytest.mark.integration


def address() -> str:
    return f"shared-{uuid.uuid4().hex[:10]}@example.test"


def profile(admin: TestClient) -> str:
    body = {"name": "IMAP", "server_type": 4, "incoming_server_location": "imap.example.test"}
    return str(created(admin.post("/api/profiles", json=body))["id"])


def test_a_second_user_with_an_address_in_use_is_refused(admin: TestClient, isolated_store: Store) -> None:
    shared = address()
    first = created(admin.post("/api/users", json={"full_name": "First", "internal_email_address": shared}))
    refused = admin.post("/api/users", json={"full_name": "Second", "internal_email_address": shared.upper()})
    assert refused.status_code == 409
    assert first["default_mailbox_id"] in refused.json()["detail"] and "First" in refused.json()["detail"]
    assert [u.full_name for u in isolated_store.users.query("full_name eq 'Second'")] == []  # nothing half made


def test_a_queue_or_forward_mailbox_cannot_take_a_users_address(admin: TestClient) -> None:
    shared = address()
    created(admin.post("/api/users", json={"full_name": "Owner", "internal_email_address": shared}))
    assert admin.post("/api/queues", json={"name": "Support", "email_address": shared}).status_code == 409
    forward = {"name": "Fwd", "email_address": shared, "email_server_profile_id": profile(admin)}
    assert admin.post("/api/mailboxes", json=forward).status_code == 409


def test_changing_an_address_to_one_in_use_is_refused_and_changes_nothing(admin: TestClient) -> None:
    taken, own = address(), address()
    created(admin.post("/api/users", json={"full_name": "Holder", "internal_email_address": taken}))
    queue = created(admin.post("/api/queues", json={"name": "Sales", "email_address": own}))
    assert admin.patch(f"/api/queues/{queue['id']}", json={"email_address": taken}).status_code == 409
    assert admin.get(f"/api/queues/{queue['id']}").json()["email_address"] == own
    mailbox = admin.get(f"/api/mailboxes/{queue['default_mailbox_id']}").json()
    assert mailbox["email_address"] == own
    assert admin.patch(f"/api/mailboxes/{mailbox['id']}", json={"email_address": taken}).status_code == 409


def test_an_address_given_up_can_be_used_again(admin: TestClient) -> None:
    old, new = address(), address()
    user = created(admin.post("/api/users", json={"full_name": "Mover", "internal_email_address": old}))
    assert admin.patch(f"/api/users/{user['id']}", json={"internal_email_address": new}).status_code == 200
    created(admin.post("/api/queues", json={"name": "Takes the old one", "email_address": old}))
    assert admin.delete(f"/api/users/{user['id']}").status_code == 204
    created(admin.post("/api/users", json={"full_name": "Takes the new one", "internal_email_address": new}))


# --- claims left behind by a crash --------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def claims(store: Store, clock: Clock) -> MailboxAddresses:
    return MailboxAddresses(store.account.table(Table.MAILBOX_ADDRESSES), store.find_mailbox, clock)


def test_a_claim_whose_mailbox_never_came_is_taken_over_after_the_grace(isolated_store: Store) -> None:
    clock, shared = Clock(), address()
    claims(isolated_store, clock).claim(shared, "crashed-before-its-mailbox")
    with pytest.raises(AlreadyExists) as young:  # a mailbox may still be on its way
        claims(isolated_store, clock).claim(shared, "second")
    assert not isinstance(young.value, AddressInUse)
    clock.now += CLAIM_GRACE + timedelta(seconds=1)
    claims(isolated_store, clock).claim(shared, "second")
    with pytest.raises(AlreadyExists):  # and now the second holds it
        claims(isolated_store, clock).claim(shared, "third")


def test_a_live_mailbox_keeps_its_address_however_old_its_claim(isolated_store: Store) -> None:
    clock, shared = Clock(), address()
    mailbox = isolated_store.mailboxes.insert(
        Mailbox(
            name="Live",
            email_address=shared,
            is_forward_mailbox=True,
            outgoing_method=OutgoingDeliveryMethod.NONE,
            act_method=ActDeliveryMethod.NONE,
        )
    )
    claims(isolated_store, clock).claim(shared, mailbox.id)
    clock.now += timedelta(days=30)
    with pytest.raises(AddressInUse) as refused:
        claims(isolated_store, clock).claim(shared.upper(), "other")
    assert refused.value.holder.id == mailbox.id
    claims(isolated_store, clock).claim(shared, mailbox.id)  # its own claim again: fine
