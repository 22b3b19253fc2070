"""Property tables of the item types besides messages, and the three things EWS does with such a table.

A type is an ordered list of properties (schema order, which is the order EWS writes them in). A ``Stored``
property is one a client writes: CreateItem and SetItemField give its value, the store keeps it in
``Item.extra``. A ``Computed`` one is what the server knows or works out (ids, times, CalendarItemType);
writing it is ErrorInvalidPropertySet, as on Exchange for read-only properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tests.ews.codecs import BodyCodec, Boolean, Codec, Indexed, Integer, Text, Timestamp
from tests.ews.errors import StateError
from tests.ews.shapes import categories_property, item_id, parent_property, text_property
from tests.ews.soap import element, find, local_name
from tests.ews.state import Item, Mailbox

Build = Callable[[Item, Mailbox], ET.Element | None]


@dataclass(frozen=True)
class Stored:
    """``uri`` is the FieldURI, ``name`` the key in ``Item.extra``; ``tag`` is the element when it is not the
    FieldURI's last part (contacts:EmailAddress is written as t:EmailAddresses). ``fallback`` is what the
    server reports while the item has no value."""

    uri: str
    name: str
    codec: Codec[Any]
    tag: str = ""
    fallback: Callable[[Item], object] | None = None

    @property
    def element_name(self) -> str:
        return self.tag or self.uri.rpartition(":")[2]

    def render(self, item: Item, _: Mailbox) -> ET.Element | None:
        value = item.extra.get(self.name)
        if value is None and self.fallback is not None:
            value = self.fallback(item)
        if value is None:
            return None
        node = element(f"t:{self.element_name}")
        self.codec.fill(node, value)
        return node


@dataclass(frozen=True)
class Computed:
    uri: str
    build: Build

    def render(self, item: Item, mailbox: Mailbox) -> ET.Element | None:
        return self.build(item, mailbox)


def fixed(tag: str, value: str) -> Build:
    """A property with the same value on every item of this server, e.g. IsCancelled false."""
    return lambda _item, _mailbox: element(tag, value)


# the properties every item type has (types.xsd ItemType), in schema order
ITEM_PROPERTIES: tuple[Stored | Computed, ...] = (
    Computed("item:ItemId", lambda i, _: item_id(i)),
    Computed("item:ParentFolderId", parent_property),
    Computed("item:ItemClass", text_property("t:ItemClass", lambda i: i.item_class)),
    Stored("item:Subject", "subject", Text()),
    Stored("item:Sensitivity", "sensitivity", Text()),
    Stored("item:Body", "body", BodyCodec()),
    Computed("item:DateTimeReceived", text_property("t:DateTimeReceived", lambda i: i.received)),
    Computed("item:Categories", categories_property),
    Stored("item:Importance", "importance", Text()),
    Stored("item:InReplyTo", "in_reply_to", Text()),
    Computed("item:DateTimeCreated", text_property("t:DateTimeCreated", lambda i: i.received)),
    Stored("item:ReminderDueBy", "reminder_due_by", Timestamp()),
    Stored("item:ReminderIsSet", "reminder_is_set", Boolean()),
    Stored("item:ReminderMinutesBeforeStart", "reminder_minutes_before_start", Integer()),
    Computed("item:HasAttachments", fixed("t:HasAttachments", "false")),
    Stored("item:Culture", "culture", Text()),
    Computed("item:LastModifiedTime", text_property("t:LastModifiedTime", lambda i: i.last_modified)),
)


@dataclass(frozen=True)
class Schema:
    """The properties of one item type (``kind``, the element name), common ones first."""

    kind: str
    properties: tuple[Stored | Computed, ...]

    @cached_property
    def _by_uri(self) -> dict[str, Stored | Computed]:
        return {p.uri: p for p in self.properties}

    @cached_property
    def _by_tag(self) -> dict[str, Stored]:
        return {p.element_name: p for p in self.properties if isinstance(p, Stored)}

    @cached_property
    def names(self) -> frozenset[str]:
        """The keys a client can write, for checking what a test passes as fields."""
        return frozenset(p.name for p in self._by_tag.values())

    def parse(self, spec: ET.Element) -> dict[str, object]:
        """The stored values of a ``t:{kind}`` in CreateItem; Categories and ExtendedProperty are the caller's, as
        for messages."""
        fields: dict[str, object] = {}
        for node in spec:
            tag = local_name(node)
            if tag in {"Categories", "ExtendedProperty"}:
                continue
            if tag not in self._by_tag:
                raise StateError("ErrorInvalidPropertySet", f"This test server cannot set {tag} on a {self.kind}.")
            fields[self._by_tag[tag].name] = self._by_tag[tag].codec.parse(node)
        return fields

    def change(self, update: ET.Element, current: Mapping[str, object]) -> tuple[str, object | None]:
        """(name, new value or None for none) of one SetItemField, AppendToItemField or DeleteItemField.

        An indexed path (IndexedFieldURI "contacts:PhysicalAddress:City", FieldIndex "Business") changes one
        entry, or one part of an address entry, and leaves the others as they are."""
        path = update[0] if len(update) else element("t:FieldURI")  # FieldURI or IndexedFieldURI
        prefix, _, rest = path.get("FieldURI", "").partition(":")
        name, _, part = rest.partition(":")
        uri, index = f"{prefix}:{name}", path.get("FieldIndex")
        prop = self._by_uri.get(uri)
        if not isinstance(prop, Stored):
            raise StateError("ErrorInvalidPropertySet", f"This test server cannot change {uri} on a {self.kind}.")
        existing = current.get(prop.name)
        if local_name(update) == "DeleteItemField":
            if isinstance(prop.codec, Indexed) and index is not None and isinstance(existing, Mapping):
                return prop.name, prop.codec.without(existing, index, part or None) or None
            return prop.name, None
        node = find(update, f"*/t:{prop.element_name}")
        if node is None:
            raise StateError(
                "ErrorIncorrectUpdatePropertyCount", f"The update of {uri} carries no {prop.element_name}."
            )
        value = prop.codec.parse(node)
        if isinstance(prop.codec, Indexed):
            return prop.name, prop.codec.merge(existing if isinstance(existing, Mapping) else {}, value)
        if local_name(update) == "AppendToItemField":
            if not isinstance(value, tuple) or not isinstance(existing, tuple | None):
                raise StateError("ErrorInvalidPropertyAppend", f"{uri} cannot be appended to.")
            return prop.name, (existing or ()) + value
        return prop.name, value

    def element(
        self, item: Item, mailbox: Mailbox, shape: str, uris: set[str], extended: list[ET.Element]
    ) -> ET.Element:
        """IdOnly gives the ItemId plus the requested FieldURIs, and of an indexed property only the entries
        requested (see ``shapes.requested_fields``); the other shapes give every property. The ``extended``
        property elements go between HasAttachments and Culture, where types.xsd has them."""
        node = element(f"t:{self.kind}")
        for prop in self.properties:
            if prop.uri == "item:Culture":
                node.extend(extended)
            if shape == "IdOnly" and prop.uri not in uris and prop.uri != "item:ItemId":
                continue
            built = prop.render(item, mailbox)
            if built is not None and shape == "IdOnly" and isinstance(prop, Stored) and isinstance(prop.codec, Indexed):
                for entry in list(built):
                    if f"{prop.uri}/{entry.get('Key')}" not in uris:
                        built.remove(entry)
            if built is not None and (len(built) or built.text or built.attrib):
                node.append(built)
        return node
