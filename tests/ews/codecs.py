"""Codecs between property elements and the typed values of ``values``: one per kind of value.

``parse`` reads the element a client sends in CreateItem or SetItemField; ``fill`` writes a value into the
element EWS answers with. Dates go out in UTC with a "Z", as Exchange writes them; a naive date-time from a
client is read as UTC (Exchange would apply the request's TimeZoneContext).
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Generic, TypeVar

from tests.ews.errors import StateError
from tests.ews.shapes import mailbox_element, timestamp
from tests.ews.soap import child, find, findall, local_name, text_of
from tests.ews.values import Attendee, Body, Recurrence, TimeZone

V = TypeVar("V")
ADDRESS_PARTS = ("Street", "City", "State", "CountryOrRegion", "PostalCode")  # schema order of a PhysicalAddress


class Codec(ABC, Generic[V]):
    @abstractmethod
    def parse(self, node: ET.Element) -> V: ...

    @abstractmethod
    def fill(self, node: ET.Element, value: V) -> None: ...


class Text(Codec[str]):
    def parse(self, node: ET.Element) -> str:
        return node.text or ""

    def fill(self, node: ET.Element, value: str) -> None:
        node.text = value


class Boolean(Codec[bool]):
    def parse(self, node: ET.Element) -> bool:
        return (node.text or "").strip() in {"true", "1"}  # xs:boolean

    def fill(self, node: ET.Element, value: bool) -> None:
        node.text = str(value).lower()


class Integer(Codec[int]):
    def parse(self, node: ET.Element) -> int:
        return int((node.text or "0").strip())

    def fill(self, node: ET.Element, value: int) -> None:
        node.text = str(value)


class Number(Codec[float]):
    """xs:double, written without a needless ".0" (PercentComplete 100, not 100.0)."""

    def parse(self, node: ET.Element) -> float:
        return float((node.text or "0").strip())

    def fill(self, node: ET.Element, value: float) -> None:
        node.text = f"{value:g}"


class Timestamp(Codec[datetime.datetime]):
    def parse(self, node: ET.Element) -> datetime.datetime:
        value = datetime.datetime.fromisoformat((node.text or "").strip())
        return value.astimezone(datetime.UTC) if value.tzinfo else value.replace(tzinfo=datetime.UTC)

    def fill(self, node: ET.Element, value: datetime.datetime) -> None:
        node.text = timestamp(value)


class BodyCodec(Codec[Body]):
    def parse(self, node: ET.Element) -> Body:
        return Body(node.text or "", node.get("BodyType", "Text"))

    def fill(self, node: ET.Element, value: Body) -> None:
        node.text = value.text
        node.set("BodyType", value.body_type)
        node.set("IsTruncated", "false")


class Strings(Codec[tuple[str, ...]]):
    """An ArrayOfStringsType such as Children or Companies."""

    def parse(self, node: ET.Element) -> tuple[str, ...]:
        return tuple(part.text or "" for part in findall(node, "t:String"))

    def fill(self, node: ET.Element, value: tuple[str, ...]) -> None:
        for part in value:
            child(node, "t:String", part)


class Attendees(Codec[tuple[Attendee, ...]]):
    def parse(self, node: ET.Element) -> tuple[Attendee, ...]:
        return tuple(
            Attendee(
                text_of(attendee, "t:Mailbox/t:EmailAddress") or "",
                text_of(attendee, "t:Mailbox/t:Name"),
                text_of(attendee, "t:ResponseType") or "Unknown",
            )
            for attendee in findall(node, "t:Attendee")
        )

    def fill(self, node: ET.Element, value: tuple[Attendee, ...]) -> None:
        for attendee in value:
            entry = child(node, "t:Attendee")
            entry.append(mailbox_element(attendee.name, attendee.email))
            child(entry, "t:ResponseType", attendee.response_type)


class TimeZoneCodec(Codec[TimeZone]):
    """StartTimeZone/EndTimeZone carry ``Id`` (and ``Name``); the Exchange 2007 MeetingTimeZone carries
    ``TimeZoneName`` instead, so ``legacy`` writes that."""

    def __init__(self, *, legacy: bool = False) -> None:
        self.legacy = legacy

    def parse(self, node: ET.Element) -> TimeZone:
        zone_id = node.get("Id") or node.get("TimeZoneName") or node.get("Name") or ""
        return TimeZone(zone_id, node.get("Name"))

    def fill(self, node: ET.Element, value: TimeZone) -> None:
        if self.legacy:
            node.set("TimeZoneName", value.id)
            return
        node.set("Id", value.id)
        if value.name:
            node.set("Name", value.name)


class RecurrenceCodec(Codec[Recurrence]):
    """Exchange writes the range's StartDate and EndDate with a zone suffix ("2024-05-06+02:00", in the zone
    of the request); this server writes a date the client sent without one as a UTC date ("2024-05-06Z"),
    which reads back as the same date, and leaves suffixed dates as they were sent."""

    def parse(self, node: ET.Element) -> Recurrence:
        if len(node) != 2:
            raise StateError("ErrorSchemaValidation", "A Recurrence is a pattern and a range.")
        pattern, boundary = node

        def values(part: ET.Element) -> dict[str, str]:
            return {local_name(value): (value.text or "").strip() for value in part}

        return Recurrence(local_name(pattern), values(pattern), local_name(boundary), values(boundary))

    def fill(self, node: ET.Element, value: Recurrence) -> None:
        pattern = child(node, f"t:{value.pattern}")
        for key, text in value.pattern_values.items():
            child(pattern, f"t:{key}", text)
        boundary = child(node, f"t:{value.range}")
        for key, text in value.range_values.items():
            dated = key in {"StartDate", "EndDate"} and len(text) == len("2024-05-06")
            child(boundary, f"t:{key}", f"{text}Z" if dated else text)


class Indexed(Codec[Mapping[str, V]]):
    """An indexed property (EmailAddresses, PhoneNumbers, ...): ``t:Entry`` elements keyed by ``Key``.

    UpdateItem names one entry (IndexedFieldURI FieldIndex) and, for addresses, one part of it, so an update
    merges into the entries rather than replacing them."""

    def merge(self, current: Mapping[str, V], given: Mapping[str, V]) -> Mapping[str, V]:
        return {**current, **given}

    def without(self, current: Mapping[str, V], key: str, part: str | None) -> Mapping[str, V]:
        return {k: v for k, v in current.items() if k != key}


class Entries(Indexed[str]):
    def parse(self, node: ET.Element) -> Mapping[str, str]:
        return {entry.get("Key", ""): (entry.text or "").strip() for entry in findall(node, "t:Entry")}

    def fill(self, node: ET.Element, value: Mapping[str, str]) -> None:
        for key, text in value.items():
            child(node, "t:Entry", text, Key=key)


class AddressEntries(Indexed[Mapping[str, str]]):
    """PhysicalAddresses: each entry is Street, City, State, CountryOrRegion and PostalCode, all optional."""

    def parse(self, node: ET.Element) -> Mapping[str, Mapping[str, str]]:
        return {
            entry.get("Key", ""): {
                part: text_of(entry, f"t:{part}") or ""
                for part in ADDRESS_PARTS
                if find(entry, f"t:{part}") is not None
            }
            for entry in findall(node, "t:Entry")
        }

    def fill(self, node: ET.Element, value: Mapping[str, Mapping[str, str]]) -> None:
        for key, address in value.items():
            entry = child(node, "t:Entry", Key=key)
            for part in ADDRESS_PARTS:
                if part in address:
                    child(entry, f"t:{part}", address[part])

    def merge(
        self, current: Mapping[str, Mapping[str, str]], given: Mapping[str, Mapping[str, str]]
    ) -> Mapping[str, Mapping[str, str]]:
        return {**current, **{key: {**current.get(key, {}), **parts} for key, parts in given.items()}}

    def without(
        self, current: Mapping[str, Mapping[str, str]], key: str, part: str | None
    ) -> Mapping[str, Mapping[str, str]]:
        if part is None:
            return super().without(current, key, part)
        left = {k: {p: v for p, v in parts.items() if (k, p) != (key, part)} for k, parts in current.items()}
        return {k: parts for k, parts in left.items() if parts}
