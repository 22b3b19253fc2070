"""Domain errors become HTTP answers that say what is wrong; nothing echoes the input back.

- 404 ``NotFound``; 409 ``AlreadyExists`` and conflicts without ``If-Match``; 412 a stale ``If-Match``;
- 422 names each field and the reason, for request validation and for business rules alike (the input
  value is left out: it may be a password);
- 400 a malformed continuation token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from sync.errors import AlreadyExists, ConcurrencyConflict, NotFound, StoreError, ValidationFailed


class FieldError(BaseModel):
    """One invalid input."""

    field: str = Field(description="Where: body.name, query.level, to.1...")
    reason: str = Field(description="What is wrong, and for an option set the values allowed.")


class InvalidInput(BaseModel):
    """The answer to invalid input (422)."""

    detail: str = Field(description="Every invalid field and its reason, in one sentence.")
    errors: list[FieldError] = Field(description="Each invalid field with its reason.")


def document_invalid_input(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the 422 answer this app really gives instead of FastAPI's default shape."""
    shown = InvalidInput.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(shown.pop("$defs", {}))
    components["HTTPValidationError"] = shown  # the name every route's 422 already refers to
    components.pop("ValidationError", None)
    return schema


def field_errors(errors: Sequence[Any], *, drop_location: bool = False) -> list[dict[str, str]]:
    """``[{"field": "body.name", "reason": "..."}]`` from pydantic's errors, without the rejected input."""
    found = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        if drop_location and location and location[0] in ("body", "query", "path", "header"):
            location = location[1:]
        found.append({"field": ".".join(location) or "body", "reason": str(error.get("msg", "invalid"))})
    return found


def _unprocessable(errors: list[dict[str, str]]) -> JSONResponse:
    summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": f"invalid input: {summary}", "errors": errors})


def install(app: FastAPI) -> None:
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_invalid_input(default_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _unprocessable(field_errors(exc.errors()))

    @app.exception_handler(ValidationError)
    async def model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return _unprocessable(field_errors(exc.errors(include_input=False)))

    @app.exception_handler(ValidationFailed)
    async def rule_broken(request: Request, exc: ValidationFailed) -> JSONResponse:
        return _unprocessable([{"field": exc.field or "body", "reason": str(exc)}])

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(AlreadyExists)
    async def exists(request: Request, exc: AlreadyExists) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(request: Request, exc: ConcurrencyConflict) -> JSONResponse:
        code = 412 if request.headers.get("if-match") else 409
        return JSONResponse(status_code=code, content={"detail": f"{exc}; read it again and retry"})

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> JSONResponse:
        if "continuation" in str(exc):
            return JSONResponse(status_code=400, content={"detail": str(exc)})
        return JSONResponse(status_code=500, content={"detail": f"storage failed: {type(exc).__name__}"})
