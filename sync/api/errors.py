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
    """``[{"field": "body.name", "reason": "..."}]`` from pydantic's errors, without the rejected input.

    Only ``loc`` and ``msg`` are returned (never ``input`` or ``ctx``); a ``msg`` that quotes the input (a
    custom validator's message, a discriminator's "Input tag 'x' ...") is replaced by the error type alone.
    """
    found = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        if drop_location and location and location[0] in ("body", "query", "path", "header"):
            location = location[1:]
        reason = str(error.get("msg", "invalid"))
        trusted = error.get("type") in VOCABULARY_ONLY
        if not trusted and _echoes(reason, error.get("input"), (error.get("ctx") or {}).get("tag")):
            reason = f"invalid value ({error.get('type', 'value_error')})"
        found.append({"field": ".".join(location) or "body", "reason": reason})
    return found


# Error types whose message is built from the API's own vocabulary only (an option set's names), never from the
# input: a name the caller mistyped shares its first letters with the names listed, which is no echo.
VOCABULARY_ONLY = frozenset({"unknown_option"})
ECHO_PREFIX = 8  # a quoted input shows at least its first characters, truncated or escaped; shorter values
# are words ("user", "contact") that the rules' own messages use, and are not where secrets hide


def _echoes(reason: str, *inputs: Any) -> bool:
    """Whether ``reason`` shows any text of the inputs (their strings, at any depth, plain or escaped)."""
    return any(_shown(reason, text) for value in inputs for text in _strings(value))


def _shown(reason: str, text: str) -> bool:
    return any(len(form) >= ECHO_PREFIX and form[:ECHO_PREFIX] in reason for form in (text, repr(text)[1:-1]))


MAX_DEPTH = 20  # nesting of a JSON body looked into; the models refuse deeper bodies anyway


def _strings(value: Any, depth: int = 0) -> list[str]:
    if depth > MAX_DEPTH:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v, depth + 1)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for item in value for s in _strings(item, depth + 1)]
    return []  # numbers, booleans, ctx["error"] (the validator's own message, checked through ``input``)


def _unprocessable(errors: list[dict[str, str]]) -> JSONResponse:
    summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse(status_code=422, content={"detail": f"invalid input: {summary}", "errors": errors})


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _unprocessable(field_errors(exc.errors()))

    @app.exception_handler(ValidationError)
    async def model_invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return _unprocessable(field_errors(exc.errors()))

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
