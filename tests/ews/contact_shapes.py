"""``t:Contact``: the properties of a contact, in the order of types.xsd.

EmailAddresses, PhysicalAddresses, PhoneNumbers and ImAddresses are indexed: entries keyed by
"EmailAddress1", "Business", "MobilePhone", ... The server adds CompleteName (the name parts the contact
has) and ContactSource "Store"; FileAs is kept as sent and not derived from the name as Outlook would.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.ews.codecs import AddressEntries, Entries, Strings, Text, Timestamp
from tests.ews.item_schema import ITEM_PROPERTIES, Computed, Schema, Stored, fixed
from tests.ews.soap import child, element
from tests.ews.state import Item, Mailbox

# CompleteName children, in schema order, and the contact property each one shows
COMPLETE_NAME = (
    ("FirstName", "given_name"),
    ("MiddleName", "middle_name"),
    ("LastName", "surname"),
    ("Initials", "initials"),
    ("FullName", "display_name"),
    ("Nickname", "nickname"),
)


def _complete_name(item: Item, _: Mailbox) -> ET.Element:
    node = element("t:CompleteName")
    for tag, name in COMPLETE_NAME:
        if value := item.value(name, str):
            child(node, f"t:{tag}", value)
    return node


def _text(uri: str, name: str) -> Stored:
    return Stored(uri, name, Text())


SCHEMA = Schema(
    "Contact",
    (
        *ITEM_PROPERTIES,
        _text("contacts:FileAs", "file_as"),
        _text("contacts:FileAsMapping", "file_as_mapping"),
        _text("contacts:DisplayName", "display_name"),
        _text("contacts:GivenName", "given_name"),
        _text("contacts:Initials", "initials"),
        _text("contacts:MiddleName", "middle_name"),
        _text("contacts:Nickname", "nickname"),
        Computed("contacts:CompleteName", _complete_name),
        _text("contacts:CompanyName", "company_name"),
        Stored("contacts:EmailAddress", "email_addresses", Entries(), tag="EmailAddresses"),
        Stored("contacts:PhysicalAddress", "physical_addresses", AddressEntries(), tag="PhysicalAddresses"),
        Stored("contacts:PhoneNumber", "phone_numbers", Entries(), tag="PhoneNumbers"),
        _text("contacts:AssistantName", "assistant_name"),
        Stored("contacts:Birthday", "birthday", Timestamp()),
        _text("contacts:BusinessHomePage", "business_homepage"),
        Stored("contacts:Children", "children", Strings()),
        Stored("contacts:Companies", "companies", Strings()),
        Computed("contacts:ContactSource", fixed("t:ContactSource", "Store")),
        _text("contacts:Department", "department"),
        _text("contacts:Generation", "generation"),
        Stored("contacts:ImAddress", "im_addresses", Entries(), tag="ImAddresses"),
        _text("contacts:JobTitle", "job_title"),
        _text("contacts:Manager", "manager"),
        _text("contacts:Mileage", "mileage"),
        _text("contacts:OfficeLocation", "office"),
        _text("contacts:PostalAddressIndex", "postal_address_index"),
        _text("contacts:Profession", "profession"),
        _text("contacts:SpouseName", "spouse_name"),
        _text("contacts:Surname", "surname"),
        Stored("contacts:WeddingAnniversary", "wedding_anniversary", Timestamp()),
        Computed("contacts:HasPicture", fixed("t:HasPicture", "false")),
    ),
)
