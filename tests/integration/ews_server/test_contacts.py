"""Contacts through exchangelib: create, fetch, update of plain and indexed fields, delete, and contacts made
in Outlook (sync of every item type is in ``test_sync_item_types``)."""

from __future__ import annotations

import pytest
from exchangelib import Account, Contact
from exchangelib.errors import ErrorItemNotFound
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress

from tests.ews.server import EwsServer
from tests.integration.ews_server.conftest import ALICE

pytestmark = pytest.mark.integration


def customer(account: Account) -> Contact:
    contact = Contact(
        account=account,
        folder=account.contacts,
        given_name="Ada",
        surname="Lovelace",
        display_name="Ada Lovelace",
        company_name="Analytical Engines Ltd",
        job_title="Chief Mathematician",
        email_addresses=[EmailAddress(email="ada@engines.test", label="EmailAddress1")],
        phone_numbers=[
            PhoneNumber(label="BusinessPhone", phone_number="+44 20 7946 0000"),
            PhoneNumber(label="MobilePhone", phone_number="+44 7700 900000"),
        ],
        physical_addresses=[
            PhysicalAddress(
                label="Business", street="12 St James's Square", city="London", zipcode="SW1Y 4LB", country="UK"
            )
        ],
        categories=["CRM"],
    )
    contact.save()
    return contact


def test_a_contact_round_trips_through_create_and_fetch(alice: Account, ews_server: EwsServer) -> None:
    contact = customer(alice)
    [stored] = ews_server.items(ALICE, "contacts")
    assert (contact.id, contact.changekey) == (stored.item_id, stored.change_key)
    assert (stored.item_type, stored.item_class, stored.categories) == ("Contact", "IPM.Contact", ("CRM",))
    assert stored.extra["email_addresses"] == {"EmailAddress1": "ada@engines.test"}
    assert stored.extra["physical_addresses"] == {
        "Business": {
            "Street": "12 St James's Square",
            "City": "London",
            "CountryOrRegion": "UK",
            "PostalCode": "SW1Y 4LB",
        }
    }

    [fetched] = alice.fetch([contact])
    assert isinstance(fetched, Contact)
    assert (fetched.given_name, fetched.surname, fetched.display_name) == ("Ada", "Lovelace", "Ada Lovelace")
    assert (fetched.company_name, fetched.job_title) == ("Analytical Engines Ltd", "Chief Mathematician")
    assert [(e.label, e.email) for e in fetched.email_addresses] == [("EmailAddress1", "ada@engines.test")]
    assert {(p.label, p.phone_number) for p in fetched.phone_numbers} == {
        ("BusinessPhone", "+44 20 7946 0000"),
        ("MobilePhone", "+44 7700 900000"),
    }
    [address] = fetched.physical_addresses
    assert (address.label, address.street, address.city, address.zipcode, address.country, address.state) == (
        "Business",
        "12 St James's Square",
        "London",
        "SW1Y 4LB",
        "UK",
        None,
    )
    assert fetched.categories == ["CRM"]
    assert (fetched.complete_name.first_name, fetched.complete_name.last_name) == ("Ada", "Lovelace")
    assert fetched.contact_source == "Store"


def test_only_the_requested_entries_of_an_indexed_field_come_back(alice: Account) -> None:
    customer(alice)
    [fetched] = alice.contacts.all().only("phone_numbers__MobilePhone", "surname")
    assert [(p.label, p.phone_number) for p in fetched.phone_numbers] == [("MobilePhone", "+44 7700 900000")]
    assert (fetched.surname, fetched.email_addresses) == ("Lovelace", None)


def test_update_changes_plain_and_indexed_fields_with_a_new_change_key(alice: Account, ews_server: EwsServer) -> None:
    contact = customer(alice)
    before = contact.changekey
    contact.job_title = "Countess"
    contact.company_name = None
    contact.email_addresses = [EmailAddress(email="ada@lovelace.test", label="EmailAddress2")]
    contact.phone_numbers = []
    contact.physical_addresses = [PhysicalAddress(label="Business", street="St James's Square", city="London")]
    contact.save(update_fields=["job_title", "company_name", "email_addresses", "phone_numbers", "physical_addresses"])

    [stored] = ews_server.items(ALICE, "contacts")
    assert contact.changekey == stored.change_key != before
    assert stored.extra["email_addresses"] == {"EmailAddress2": "ada@lovelace.test"}
    assert stored.extra["physical_addresses"] == {"Business": {"Street": "St James's Square", "City": "London"}}
    assert "phone_numbers" not in stored.extra and "company_name" not in stored.extra
    [fetched] = alice.fetch([contact])
    assert (fetched.job_title, fetched.company_name, fetched.phone_numbers) == ("Countess", None, None)
    assert [(e.label, e.email) for e in fetched.email_addresses] == [("EmailAddress2", "ada@lovelace.test")]

    fetched.department = "Research"
    fetched.save()  # every field: sets what is there, deletes what is not
    [stored] = ews_server.items(ALICE, "contacts")
    assert (stored.extra["department"], stored.extra["job_title"]) == ("Research", "Countess")


def test_a_contact_added_in_outlook_is_found_and_deleted(alice: Account, ews_server: EwsServer) -> None:
    item_id = ews_server.create_contact(
        ALICE,
        display_name="Grace Hopper",
        given_name="Grace",
        surname="Hopper",
        email_addresses={"EmailAddress1": "grace@navy.test"},
        categories=["Prospect"],
    )
    [found] = list(alice.contacts.all())
    assert (found.id, found.display_name, found.categories) == (item_id, "Grace Hopper", ["Prospect"])
    assert [e.email for e in found.email_addresses] == ["grace@navy.test"]

    found.delete()
    assert ews_server.items(ALICE, "contacts") == []
    [gone] = alice.fetch([(item_id, None)], only_fields=["display_name"])
    assert isinstance(gone, ErrorItemNotFound)
