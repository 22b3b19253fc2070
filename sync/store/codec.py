"""Pydantic entity <-> Table Storage entity.

Rules: ``None`` is not stored (Table has no null); enums are stored as their Dynamics integer;
ints outside int32 are stored as Edm.Int64 (the SDK refuses them otherwise); datetimes as UTC;
lists, dicts, nested models and strings too long for one property as JSON in a property named
``<field>__json`` (split over ``<field>__json1``, ``__json2``... when longer than one property may
hold); bytes are refused (they belong in Blob). Limits are checked before a request is sent, so an
oversized record fails with :class:`~sync.errors.EntityTooLarge` naming the field, not an opaque HTTP 400.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from azure.data.tables import EdmType, EntityProperty
from pydantic import BaseModel

from sync.errors import EntityTooLarge

M = TypeVar("M", bound=BaseModel)

JSON_SUFFIX = "__json"
JSON_CHUNK_CHARS = 30_000  # 60 KB in UTF-16: under the 64 KiB per-property limit
MAX_STRING_BYTES = 64 * 1024  # per string property, measured in UTF-16
MAX_ENTITY_BYTES = 1024 * 1024
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SYSTEM_PROPERTIES = frozenset({"PartitionKey", "RowKey", "Timestamp", "etag"})


def _utf16_size(text: str) -> int:
    return len(text.encode("utf-16-le"))


def _scalar(name: str, value: Any) -> Any:  # noqa: PLR0911 (one return per stored type)
    if isinstance(value, bool):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, int):
        if INT32_MIN <= value <= INT32_MAX:
            return value
        return EntityProperty(value, EdmType.INT64)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (bytes, bytearray)):
        raise TypeError(f"{name}: bytes belong in Blob storage, not in a table")
    if isinstance(value, str):
        if _utf16_size(value) > MAX_STRING_BYTES:
            raise EntityTooLarge(f"{name} is longer than the 64 KiB Table Storage allows for one property")
        return str(value)  # plain str: the SDK refuses str subclasses such as SealedSecret
    return value


def encode(model: BaseModel, partition_key: str, row_key: str) -> dict[str, Any]:
    """The Table entity for ``model`` under the given keys."""
    python = model.model_dump(mode="python")
    as_json = model.model_dump(mode="json")
    entity: dict[str, Any] = {"PartitionKey": partition_key, "RowKey": row_key}
    size = _utf16_size(partition_key) + _utf16_size(row_key)
    for name, value in python.items():
        if value is None:
            continue
        long_text = isinstance(value, str) and len(value) > JSON_CHUNK_CHARS
        if isinstance(value, (dict, list, tuple, set)) or long_text:
            text = json.dumps(as_json[name], separators=(",", ":"), ensure_ascii=False)
            chunks = [text[i : i + JSON_CHUNK_CHARS] for i in range(0, len(text), JSON_CHUNK_CHARS)] or [""]
            for n, chunk in enumerate(chunks):
                key = name + JSON_SUFFIX + (str(n) if n else "")
                entity[key] = chunk
                size += _utf16_size(key) + _utf16_size(chunk)
            continue
        stored = _scalar(name, value)
        entity[name] = stored
        size += _utf16_size(name) + (_utf16_size(stored) if isinstance(stored, str) else 8)
    if size > MAX_ENTITY_BYTES:
        raise EntityTooLarge(f"{type(model).__name__} is larger than the 1 MiB Table Storage allows for one entity")
    return entity


def decode(model_type: type[M], entity: dict[str, Any]) -> M:
    """The model stored in ``entity``; unknown properties are ignored (older or newer schema)."""
    data: dict[str, Any] = {}
    json_chunks: dict[str, dict[int, str]] = {}
    for key, stored in entity.items():
        if key in SYSTEM_PROPERTIES:
            continue
        value = stored.value if isinstance(stored, EntityProperty) else stored
        name, marker, index = key.partition(JSON_SUFFIX)
        if marker and (index == "" or index.isdigit()):
            json_chunks.setdefault(name, {})[int(index or 0)] = value
        else:
            data[key] = value
    for name, chunks in json_chunks.items():
        data[name] = json.loads("".join(chunks[n] for n in sorted(chunks)))
    return model_type.model_validate(data)
