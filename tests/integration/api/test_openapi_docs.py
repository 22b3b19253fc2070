"""The OpenAPI document explains itself: every field and parameter is described, every option set lists its names.

Walks ``/api/openapi.json`` as a client reads it, so a field added without a description, or an option set
left as bare numbers, fails here with its name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def document(anonymous: TestClient) -> Schema:
    response = anonymous.get("/api/openapi.json")
    assert response.status_code == 200
    body: Schema = response.json()
    return body


def components(document: Schema) -> dict[str, Schema]:
    found: dict[str, Schema] = document["components"]["schemas"]
    return found


def parameters(document: Schema) -> Iterator[tuple[str, Schema]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                yield f"{method.upper()} {path} {parameter['name']}", parameter


def is_option_set(name: str, schema: Schema) -> bool:
    """An option set as the API shows it: names and numbers in, ``{value, name}`` out (a table: its name)."""
    values = schema.get("enum", [])
    answered = set(schema.get("properties", {})) == {"value", "name"} or name == "EntityTypeName-Output"
    return any(isinstance(v, int) for v in values) or answered


FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")  # FastAPI's 422 shape, not this app's


def test_every_property_and_parameter_has_a_description(document: Schema) -> None:
    missing = [
        f"{name}.{prop}"
        for name, schema in components(document).items()
        if name not in FASTAPI_VALIDATION_SCHEMAS
        for prop, shown in schema.get("properties", {}).items()
        if not shown.get("description")
    ]
    missing += [where for where, parameter in parameters(document) if not parameter.get("description")]
    assert missing == []


def test_every_option_set_lists_its_names_with_their_values(document: Schema) -> None:
    option_sets = {name: schema for name, schema in components(document).items() if is_option_set(name, schema)}
    assert {
        "ServerType-Input",
        "ServerType-Output",
        "AlertLevel-Input",
        "AlertLevel-Output",
        "EntityTypeName-Output",
    } <= set(option_sets)
    for name, schema in option_sets.items():
        if name.endswith("Name-Output"):  # a table in a reference: its logical name only
            names, values = schema["enum"], []
        elif "properties" in schema:
            names, values = schema["properties"]["name"]["enum"], schema["properties"]["value"]["enum"]
        else:
            names = [v for v in schema["enum"] if isinstance(v, str)]
            values = [v for v in schema["enum"] if isinstance(v, int)]
        assert names and all(isinstance(n, str) for n in names), name
        for shown_name, value in zip(names, values, strict=False):
            assert f"{shown_name} = {value}" in schema["description"], name
    server_type = option_sets["ServerType-Input"]
    assert {"imap_smtp", 4, "exchange_online", 3} <= set(server_type["enum"])


def test_no_field_or_filter_is_a_bare_number_option_set(document: Schema) -> None:
    """An integer ``enum`` outside an option set's own ``value`` is a field that still speaks only in numbers."""
    bare: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            values = node.get("enum")
            if values and all(isinstance(v, int) for v in values) and not where.endswith("properties.value"):
                bare.append(where)
            for key, child in node.items():
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for n, child in enumerate(node):
                walk(child, f"{where}.{n}")

    walk(document, "")
    assert bare == []


def test_references_have_one_shape(document: Schema) -> None:
    schemas = components(document)
    assert "EntityRef" not in schemas  # the stored shape, with a type code, never reaches the API
    references = [name for name, schema in schemas.items() if set(schema.get("properties", {})) == {"type", "id"}]
    assert references
    for name in references:
        table = schemas[name]["properties"]["type"]
        assert table["$ref"].split("/")[-1].startswith("EntityTypeName"), name


def test_an_input_option_sets_default_is_one_of_its_values(document: Schema) -> None:
    schemas = components(document)
    checked = 0
    for name, schema in schemas.items():
        for prop, shown in schema.get("properties", {}).items():
            target = shown.get("$ref", "").split("/")[-1]
            if target.endswith("-Input") and "default" in shown and is_option_set(target, schemas[target]):
                assert shown["default"] in schemas[target]["enum"], f"{name}.{prop}"
                checked += 1
    assert checked > 10
