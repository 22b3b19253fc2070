"""Typed property values of calendar items, contacts and tasks, and the names of extended properties, as the
store keeps them.

Plain values (str, bool, int, float, aware datetimes, tuples of str) need no class. These are the structured
ones; they are frozen so an item snapshot handed to a test cannot change the store behind its back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Body:
    """``item:Body``; ``body_type`` is "Text" or "HTML", as the BodyType attribute says."""

    text: str
    body_type: str = "Text"


@dataclass(frozen=True)
class Attendee:
    """One ``t:Attendee`` of a meeting: who, and their ``ResponseType`` (Unknown until they answer)."""

    email: str
    name: str | None = None
    response_type: str = "Unknown"


@dataclass(frozen=True)
class TimeZone:
    """A Windows time zone as EWS names it (``Id`` "W. Europe Standard Time"); ``name`` is its display name.

    The store keeps the id a client sent and never converts it, so a round trip reports the same zone."""

    id: str
    name: str | None = None


@dataclass(frozen=True)
class Recurrence:
    """``t:Recurrence``: a pattern element and a range element, each with simple-valued children in order.

    Every EWS pattern (DailyRecurrence, WeeklyRecurrence, RelativeYearlyRecurrence, DailyRegeneration, ...) and
    range (NoEndRecurrence, EndDateRecurrence, NumberedRecurrence) has only text children, so one generic
    shape keeps them all, e.g. ``Recurrence("WeeklyRecurrence", {"Interval": "1", "DaysOfWeek": "Monday"},
    "NumberedRecurrence", {"StartDate": "2024-05-06", "NumberOfOccurrences": "5"})``."""

    pattern: str
    pattern_values: Mapping[str, str]
    range: str
    range_values: Mapping[str, str]


@dataclass(frozen=True)
class ExtendedField:
    """A custom (extended) property as ``t:ExtendedFieldURI`` names it: a property set GUID in lower case and a
    name, or a MAPI property tag in hex ("0x1090"); and its ``PropertyType`` ("String")."""

    property_type: str
    property_set_id: str | None = None
    property_name: str | None = None
    property_tag: str | None = None
