"""Schemathesis against the OpenAPI document, in process (no network): no generated input makes a 5xx.

Bounded: a few derandomized examples per operation, so the run is repeatable and stays well under a minute.
The operations are driven with Hypothesis directly (one ``@given`` per operation) rather than through
schemathesis' pytest plugin, and every failing operation is reported, not only the first.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from tests.integration.api.conftest import ADMIN

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 8


def test_no_generated_input_makes_a_server_error(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails the test here
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case[Any]) -> None:
            response = case.call(headers=ADMIN)
            assert response.status_code < 500, f"{response.status_code} {response.text[:300]}"

        try:
            call()
        except AssertionError as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations > 30
    assert failures == []
