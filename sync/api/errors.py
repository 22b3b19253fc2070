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
from pydantic import ValidationError

from sync.errors import AlreadyExists, ConcurrencyConflict, NotFound, StoreError, ValidationFailed


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
