"""Extended properties: custom properties a client puts on any item or folder, named by a ``t:ExtendedFieldURI``.

CreateItem carries them as ``t:ExtendedProperty`` (the name and a ``t:Value``), UpdateItem and UpdateFolder set
and delete them by their ExtendedFieldURI, and GetItem, FindItem, SyncFolderItems and GetFolder return them only
when the ItemShape or FolderShape asks for them in AdditionalProperties, as Exchange does (no BaseShape includes
them).

Simplified: this server keeps properties named by PropertySetId and PropertyName, or by PropertyTag, of the
types in ``CODECS``; writing any other (a DistinguishedPropertySetId, a PropertyId, an array type) is
ErrorInvalidPropertySet. A tag is kept as a value of its own, not linked to the item property it stands for
on Exchange (0x0037 is not the Subject here).
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from tests.ews.codecs import Codec, Integer, Text
from tests.ews.errors import StateError
from tests.ews.soap import child, element, find, findall, local_name
from tests.ews.values import ExtendedField

# PropertyType -> how a value of that type is read and written
CODECS: dict[str, Codec[Any]] = {"String": Text(), "Integer": Integer()}


def _tag(text: str) -> str:
    """A PropertyTag, given in hex ("0x1090") or decimal, as hex."""
    try:
        return hex(int(text, 0))
    except ValueError as e:
        raise StateError("ErrorInvalidExtendedProperty", f"PropertyTag {text!r} is not a number.") from e


def field_of(uri: ET.Element) -> ExtendedField:
    """The property a ``t:ExtendedFieldURI`` names; one this server cannot keep is ErrorInvalidPropertySet."""
    kind, set_id, name, tag = (uri.get(a) for a in ("PropertyType", "PropertySetId", "PropertyName", "PropertyTag"))
    unsupported = uri.get("DistinguishedPropertySetId") or uri.get("PropertyId")
    if kind not in CODECS:
        raise StateError(
            "ErrorInvalidPropertySet",
            f"This test server keeps extended properties of type {sorted(CODECS)}, not {kind}.",
        )
    if set_id and name and not (tag or unsupported):
        return ExtendedField(kind, property_set_id=set_id.lower(), property_name=name)
    if tag and not (set_id or name or unsupported):
        return ExtendedField(kind, property_tag=_tag(tag))
    raise StateError(
        "ErrorInvalidPropertySet",
        f"This test server keeps extended properties named by PropertySetId and PropertyName, or by PropertyTag; "
        f"not {dict(uri.attrib)}.",
    )


def _property(node: ET.Element) -> tuple[ExtendedField, object]:
    """(name, value) of a ``t:ExtendedProperty``."""
    uri, value = find(node, "t:ExtendedFieldURI"), find(node, "t:Value")
    if uri is None:
        raise StateError("ErrorSchemaValidation", "An ExtendedProperty names its property by an ExtendedFieldURI.")
    field = field_of(uri)  # refuses the array types first, which carry Values rather than a Value
    if value is None:
        raise StateError("ErrorSchemaValidation", "An ExtendedProperty carries a Value.")
    try:
        return field, CODECS[field.property_type].parse(value)
    except ValueError as e:
        raise StateError("ErrorInvalidExtendedPropertyValue", f"{value.text!r} is not a {field.property_type}.") from e


def parse(spec: ET.Element) -> dict[ExtendedField, object]:
    """The extended properties of an item in CreateItem."""
    return dict(_property(node) for node in findall(spec, "t:ExtendedProperty"))


def change(update: ET.Element) -> tuple[ExtendedField, object | None]:
    """(name, new value or None for none) of a Set/DeleteItemField or Set/DeleteFolderField whose path is an
    ExtendedFieldURI."""
    field = field_of(update[0])
    if local_name(update) in ("DeleteItemField", "DeleteFolderField"):
        return field, None
    if local_name(update) in ("AppendToItemField", "AppendToFolderField"):
        raise StateError("ErrorInvalidPropertyAppend", "An extended property cannot be appended to.")
    given = dict(_property(node) for node in findall(update, "*/t:ExtendedProperty"))
    if field not in given:
        raise StateError("ErrorIncorrectUpdatePropertyCount", "The update carries no value of the property it names.")
    return field, given[field]


def requested(shape: ET.Element | None) -> set[ExtendedField]:
    """The extended properties an ItemShape or FolderShape asks for. One this server cannot keep is left out: no
    item or folder has it."""
    fields: set[ExtendedField] = set()
    if shape is None:
        return fields
    for uri in findall(shape, "t:AdditionalProperties/t:ExtendedFieldURI"):
        with contextlib.suppress(StateError):
            fields.add(field_of(uri))
    return fields


def elements(owned: Mapping[ExtendedField, object], fields: set[ExtendedField]) -> list[ET.Element]:
    """The ``t:ExtendedProperty`` elements of the requested properties that an item or folder has (``owned``)."""
    nodes = []
    for field, value in owned.items():
        if field in fields:
            node = element("t:ExtendedProperty")
            names = {
                "PropertySetId": field.property_set_id,
                "PropertyName": field.property_name,
                "PropertyTag": field.property_tag,
                "PropertyType": field.property_type,
            }
            node.append(element("t:ExtendedFieldURI", **{k: v for k, v in names.items() if v is not None}))
            CODECS[field.property_type].fill(child(node, "t:Value"), value)
            nodes.append(node)
    return nodes
