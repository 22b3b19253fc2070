"""The address index (R-RES-13) stays current through every create, update and delete."""

from __future__ import annotations

import uuid

import pytest

from sync.crm.records import RecordService
from sync.model import Account, Contact, Lead, Queue, SystemUser
from sync.model.options import EntityType, StateCode
from sync.store import Store

pytestmark = pytest.mark.integration


def _address(tag: str = "x") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@Example.Test"


def test_every_email_column_of_every_record_type_is_indexed(store: Store) -> None:
    records = RecordService(store)
    shared = _address("shared")
    user = records.create(SystemUser(full_name="U", internal_email_address=shared, personal_email_address=_address()))
    queue = records.create(Queue(name="Q", email_address=shared))
    contact = records.create(Contact(last_name="C", email_address2=shared))
    account = records.create(Account(name="A", email_address3=shared))
    lead = records.create(Lead(last_name="L", email_address1=shared))
    matches = {(m.type, m.id, m.column, m.column_number) for m in store.address_index.lookup(shared)}
    assert matches == {
        (EntityType.SYSTEM_USER, user.id, "internal_email_address", 1),
        (EntityType.QUEUE, queue.id, "email_address", 1),
        (EntityType.CONTACT, contact.id, "email_address2", 2),
        (EntityType.ACCOUNT, account.id, "email_address3", 3),
        (EntityType.LEAD, lead.id, "email_address1", 1),
    }


def test_lookup_ignores_case_and_surrounding_space(store: Store) -> None:
    address = _address()
    contact = RecordService(store).create(Contact(last_name="C", email_address1=address))
    assert [m.id for m in store.address_index.lookup("  " + address.upper() + " ")] == [contact.id]


def test_lookup_is_one_request(store: Store) -> None:
    address = _address()
    RecordService(store).create(Contact(last_name="C", email_address1=address))
    before = store.account.counter.total("table")
    store.address_index.lookup(address)
    assert store.account.counter.total("table") - before == 1


def test_changing_an_address_moves_the_entry(store: Store) -> None:
    records = RecordService(store)
    old, new = _address("old"), _address("new")
    contact = records.create(Contact(last_name="C", email_address1=old))
    contact.email_address1 = new
    records.update(contact)
    assert store.address_index.lookup(old) == []
    assert [m.id for m in store.address_index.lookup(new)] == [contact.id]


def test_clearing_a_column_removes_its_entry_only(store: Store) -> None:
    records = RecordService(store)
    first, second = _address("a"), _address("b")
    contact = records.create(Contact(last_name="C", email_address1=first, email_address2=second))
    contact.email_address2 = None
    records.update(contact)
    assert store.address_index.lookup(second) == []
    assert [m.column for m in store.address_index.lookup(first)] == ["email_address1"]


def test_moving_an_address_between_columns_updates_the_column(store: Store) -> None:
    records = RecordService(store)
    address = _address()
    contact = records.create(Contact(last_name="C", email_address1=address))
    contact.email_address1, contact.email_address3 = None, address
    records.update(contact)
    assert [(m.column, m.column_number) for m in store.address_index.lookup(address)] == [("email_address3", 3)]


def test_state_changes_reach_the_index(store: Store) -> None:
    records = RecordService(store)
    address = _address()
    user = records.create(SystemUser(full_name="U", internal_email_address=address))
    user.is_disabled = True
    user.state = StateCode.INACTIVE
    records.update(user)
    (match,) = store.address_index.lookup(address)
    assert match.disabled_user and not match.active


def test_deleting_a_record_removes_its_entries(store: Store) -> None:
    records = RecordService(store)
    address = _address()
    other = records.create(Lead(last_name="Other", email_address1=address))
    contact = records.create(Contact(last_name="C", email_address1=address, email_address2=_address()))
    records.delete(contact)
    assert [m.id for m in store.address_index.lookup(address)] == [other.id]


def test_owner_is_kept_for_ranking(store: Store) -> None:
    address = _address()
    RecordService(store).create(Contact(last_name="C", email_address1=address, owner_user_id="owner-1"))
    assert store.address_index.lookup(address)[0].owner_user_id == "owner-1"


def test_addresses_with_key_forbidden_characters(store: Store) -> None:
    address = f"we/ird#{uuid.uuid4().hex[:6]}?x@example.test"
    contact = RecordService(store).create(Contact(last_name="C", email_address1=address))
    assert [m.id for m in store.address_index.lookup(address)] == [contact.id]


def test_rebuild_restores_lost_entries(store: Store) -> None:
    address = _address()
    contact = RecordService(store).create(Contact(last_name="C", email_address1=address))
    store.address_index.remove_stale(None, contact)  # simulate a lost row
    assert store.address_index.lookup(address) == []
    assert store.address_index.rebuild([contact]) == 1
    assert [m.id for m in store.address_index.lookup(address)] == [contact.id]
