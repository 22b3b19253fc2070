"""Option sets and record references as an administrator reads them, at the API boundary only.

Entities keep Dynamics' numbers (storage, alerts and exports match Dataverse); the API models derived from them
(:func:`api_annotation`, used by :class:`~sync.api.resources.Shape`) speak in names as well:

- an option set accepts its Dynamics number, its name in any case and with or without underscores
  (``"server_side_sync"``, ``"Server Side Sync"``, ``2``, ``"2"``), or the ``{"value", "name"}`` object a
  response gave; it answers with ``{"value": 2, "name": "server_side_sync"}``. An unknown value is refused with
  the list of allowed ones, never matched to nothing;
- a record reference is ``{"type": "systemuser", "id": "..."}`` everywhere, the type by its Dataverse logical
  name (its object type code is accepted on input, for older clients).

The OpenAPI document lists each option set once (a schema named after it) with every ``name = value`` pair.
"""

from __future__ import annotations

import copy
import re
import types
from enum import IntEnum
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, core_schema

from sync.model.fields import EntityRef, Str36
from sync.model.options import EntityType

_SEPARATORS = re.compile(r"[\s_-]+")


def option_name(member: IntEnum) -> str:
    """The name an administrator reads: snake_case, or the logical name for a table (``systemuser``)."""
    if isinstance(member, EntityType):
        return member.name.lower().replace("_", "")
    return member.name.lower()


def _key(text: str) -> str:
    """What two spellings of a name share: case, spaces, underscores and hyphens do not matter."""
    return _SEPARATORS.sub("", text).casefold()


def choices(enum: type[IntEnum]) -> str:
    """``none = 0, outlook = 1, ...``: every name with its Dynamics number."""
    return ", ".join(f"{option_name(m)} = {int(m)}" for m in enum)


class UnknownOption(ValueError):
    """A value that is no member of the option set; the message lists the allowed ones, not the input."""


@cache
def _names(enum: type[IntEnum]) -> dict[str, IntEnum]:
    return {_key(option_name(m)): m for m in enum} | {_key(m.name): m for m in enum}


def parse_option(enum: type[IntEnum], value: Any) -> IntEnum:
    """The member ``value`` stands for: a member, a number, a name, or a ``{"value", "name"}`` object."""
    if isinstance(value, dict):
        return _parse_answered(enum, value)
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        text = value.strip()
        found = _names(enum).get(_key(text))
        if found is not None:
            return found
        if re.fullmatch(r"-?\d{1,10}", text):
            value = int(text)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum(value)
        except ValueError:
            pass
    raise UnknownOption(f"unknown {enum.__name__}: use one of {choices(enum)}")


def _parse_answered(enum: type[IntEnum], shown: dict[Any, Any]) -> IntEnum:
    """The ``{value, name}`` object a response gave; a value and a name that disagree are refused, not guessed."""
    given = [parse_option(enum, shown[key]) for key in ("value", "name") if key in shown]
    if not given or any(member is not given[0] for member in given):
        raise UnknownOption(f"value and name must be the same {enum.__name__}: use one of {choices(enum)}")
    return given[0]


class OptionSet:
    """Annotated metadata that makes an ``int`` field an option set in its readable API form (module docstring).

    Used as ``Annotated[int, OptionSet(TestStatus)]``: the value is the ``IntEnum`` member (an ``int``), and the
    annotation names no enum class, so the OpenAPI document shows only the readable schema of each option set.
    ``name_only``: answer with the name alone (a record reference's table), not the ``{value, name}`` object."""

    def __init__(self, enum: type[IntEnum], *, name_only: bool = False) -> None:
        self.enum = enum
        self.name_only = name_only

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        enum, name_only = self.enum, self.name_only

        def show(member: IntEnum) -> Any:
            return option_name(member) if name_only else {"value": int(member), "name": option_name(member)}

        def parse(value: Any) -> IntEnum:
            try:
                return parse_option(enum, value)
            except UnknownOption as exc:  # pydantic's own error type: the reason reads without "Value error, "
                raise PydanticCustomError("unknown_option", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            parse,
            ref=self.title,  # one schema per option set in the OpenAPI document, named after it
            serialization=core_schema.plain_serializer_function_ser_schema(show, when_used="json"),
            metadata={"pydantic_js_functions": [self._json_schema]},
        )

    @property
    def title(self) -> str:
        return f"{self.enum.__name__}Name" if self.name_only else self.enum.__name__

    def _json_schema(self, _: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        enum, title = self.enum, self.title
        names = [option_name(m) for m in enum]
        values = [int(m) for m in enum]
        listing = f"{title} values: {choices(enum)}."
        if handler.mode == "validation":
            return {"title": title, "enum": [*names, *values], "description": f"{listing} Send the name or number."}
        if self.name_only:
            return {"title": title, "type": "string", "enum": names, "description": listing}
        return {
            "title": title,
            "type": "object",
            "properties": {
                "value": {"type": "integer", "enum": values, "description": "The Dynamics 365 option value."},
                "name": {"type": "string", "enum": names, "description": "The option's name."},
            },
            "required": ["value", "name"],
            "description": listing,
        }


TableName = Annotated[int, OptionSet(EntityType, name_only=True)]
"""A table by its logical name (``systemuser``); its object type code (8) is accepted on input."""


def readable(enum: type[IntEnum]) -> Any:
    """``enum`` as the API reads and writes it."""
    return Annotated[int, OptionSet(enum)]


class RecordRef(BaseModel):
    """A record: its table's logical name and its id, the one shape of a reference in the whole API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: TableName = Field(description="The record's table: systemuser, queue, contact, account, lead...")
    id: Str36 = Field(min_length=1, description="The record's id.")

    @classmethod
    def of(cls, ref: EntityRef) -> RecordRef:
        return cls(type=ref.type, id=ref.id)

    def ref(self) -> EntityRef:
        return EntityRef(type=EntityType(self.type), id=self.id)


# --- deriving API models from entities ---------------------------------------------------------------------------
def api_annotation(annotation: Any) -> Any:
    """``annotation`` with every option set readable, every ``EntityRef`` a :class:`RecordRef`, and every nested
    model derived the same way; unchanged when there is nothing to change."""
    if isinstance(annotation, type):
        return _api_class(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is None or not args:
        return annotation
    if origin is Annotated:
        inner = api_annotation(args[0])
        return annotation if inner is args[0] else Annotated[(inner, *annotation.__metadata__)]
    mapped = tuple(api_annotation(a) for a in args)
    if mapped == args:
        return annotation
    if origin in (Union, types.UnionType):
        return Union[mapped]  # noqa: UP007  (built at run time)
    return origin[mapped] if len(mapped) > 1 else origin[mapped[0]]


def _api_class(cls: type) -> Any:
    if cls is EntityRef:
        return RecordRef
    if issubclass(cls, IntEnum):
        return readable(cls)
    if issubclass(cls, BaseModel):
        return api_model(cls)
    return cls


def api_field(info: FieldInfo, *, as_input: bool = False) -> tuple[Any, FieldInfo]:
    """A field's API annotation with a copy of its FieldInfo (default, constraints, description).

    ``as_input``: an option set's default is documented by its name, one of the values the input takes."""
    shown = copy.copy(info)
    if as_input and isinstance(info.default, IntEnum):
        shown.json_schema_extra = {"default": option_name(info.default)}
    return api_annotation(info.annotation), shown


@cache
def api_model(model: type[BaseModel]) -> type[BaseModel]:
    """A nested value model (a party, an attachment...) as the API shows it; the entity validates it again."""
    fields = {name: api_field(info) for name, info in model.model_fields.items()}
    if all(fields[name][0] is info.annotation for name, info in model.model_fields.items()):
        return model
    return create_model(model.__name__, __doc__=model.__doc__, **fields)  # type: ignore[call-overload,no-any-return]
