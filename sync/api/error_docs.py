"""The error answers of the admin API, as the OpenAPI document declares them.

The handlers in :mod:`sync.api.errors` (and FastAPI's own for ``HTTPException``) answer with these bodies;
FastAPI's generated document knew none of them and showed its own 422 shape, which the API never sends.
:func:`declare_errors` adds each status an operation can really answer, by rule, so a new route is
documented without touching it:

- 401 and 403: every operation with a security requirement (every route but the health probe);
- 404: an operation on a path with an id in it; 409: every change (an existing key, or a conflict);
- 412: an operation that takes ``If-Match``; 400: a list that takes a ``continuation`` token;
- 413: an operation with a request body (over ``SYNC_API_MAX_BODY_BYTES``, refused before it is parsed);
- 422: an operation with any input (the field and the reason for each, never the input itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

CHANGES = frozenset({"post", "put", "patch", "delete"})
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


class ErrorBody(BaseModel):
    """What every error answer carries."""

    detail: str = Field(description="What is wrong, in words; never the rejected input.")


class FieldProblem(BaseModel):
    field: str = Field(description="Where: the field path, such as 'password' or 'query.page_size'.")
    reason: str = Field(description="Why the value was refused.")


class InvalidInputBody(ErrorBody):
    """A 422: the summary in ``detail``, and each field with its reason."""

    errors: list[FieldProblem] = Field(description="Each refused field with its reason.")


class HealthBody(BaseModel):
    status: str = Field(description="'ok' or 'unhealthy'.")
    storage: str = Field(description="'ok' or 'unreachable'.")
    error: str | None = Field(default=None, description="The kind of storage failure, when unhealthy.")


ANSWERS: Mapping[int, tuple[str, type[BaseModel]]] = {
    400: ("The continuation token is malformed.", ErrorBody),
    401: ("No credentials, or credentials that are not valid (see `detail`).", ErrorBody),
    403: ("The caller lacks the app role this route needs.", ErrorBody),
    404: ("No record has this id.", ErrorBody),
    409: ("The record exists already, or it changed meanwhile (no If-Match sent): read it again.", ErrorBody),
    412: ("If-Match does not match the stored ETag: read the record again and retry.", ErrorBody),
    413: ("The request body is larger than SYNC_API_MAX_BODY_BYTES; nothing was read or changed.", ErrorBody),
    422: ("Invalid input: each field and the reason.", InvalidInputBody),
}


def declare_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Add the real error answers to every operation of an OpenAPI document (in place; also returned)."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    models: tuple[type[BaseModel], ...] = (ErrorBody, FieldProblem, InvalidInputBody, HealthBody)
    for model in models:
        _add_schema(schemas, model)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if isinstance(operation, dict):
                for code in answers_of(path, method, operation):
                    description, model = ANSWERS[code]
                    operation.setdefault("responses", {})[str(code)] = _response(description, model)
    if path_item := document.get("paths", {}).get("/api/health", {}).get("get"):
        path_item["responses"]["503"] = _response("Storage does not answer.", HealthBody)
    for name in FASTAPI_VALIDATION_SCHEMAS:  # FastAPI's 422 shape: no longer referenced
        if name not in _references(document):
            schemas.pop(name, None)
    return document


def answers_of(path: str, method: str, operation: Mapping[str, Any]) -> list[int]:
    """The error statuses one operation can answer."""
    parameters = operation.get("parameters", [])
    names = {(str(p.get("in")), str(p.get("name", "")).lower()) for p in parameters}
    codes = []
    if operation.get("security"):
        codes += [401, 403]
    if "{" in path:
        codes.append(404)
    if method in CHANGES:
        codes.append(409)
    if ("header", "if-match") in names:
        codes.append(412)
    if ("query", "continuation") in names:
        codes.append(400)
    if "requestBody" in operation:
        codes.append(413)
    if parameters or "requestBody" in operation:
        codes.append(422)
    return sorted(codes)


def _response(description: str, model: type[BaseModel]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in schema.pop("$defs", {}).items():
        schemas.setdefault(name, nested)
    schemas[model.__name__] = schema


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _references(value)
    elif isinstance(node, list):
        for value in node:
            found |= _references(value)
    return found
