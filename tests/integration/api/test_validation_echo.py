"""422 answers name the field and the reason, and never show what was sent (it may be a password)."""

from __future__ import annotations

from typing import Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError, field_validator

from sync.api.errors import field_errors

pytestmark = pytest.mark.integration

SECRET = "Zq9-s3cr3t-Tok3n-Value"


def test_a_bad_address_is_refused_without_echoing_it(admin: TestClient) -> None:
    response = admin.post("/api/users", json={"full_name": "Echo", "internal_email_address": SECRET})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.internal_email_address"
    assert SECRET[:8] not in response.text


def test_a_bad_address_of_a_contact_is_refused_without_echoing_it(admin: TestClient) -> None:
    body = {"last_name": "Echo", "email_address1": f"{SECRET} <x@y>"}
    response = admin.post("/api/contacts", json=body)
    assert response.status_code == 422
    assert SECRET[:8] not in response.text


class _Tagged(BaseModel):
    kind: Literal["a"]


class _Nested(BaseModel):
    items: list[_Tagged | int] = Field(default_factory=list)
    code: str = ""

    @field_validator("code")
    @classmethod
    def _no_echo_here(cls, value: str) -> str:
        raise ValueError(f"bad code {value!r}")  # a careless validator: the handler must still hide it


def test_messages_quoting_the_input_are_replaced_by_the_error_type() -> None:
    with pytest.raises(ValidationError) as caught:
        _Nested.model_validate({"items": [{"kind": SECRET}], "code": SECRET.replace("-", "\\")})
    found = field_errors(caught.value.errors())
    assert {e["field"] for e in found} >= {"code"}
    assert SECRET[:8] not in str(found)
    assert SECRET.replace("-", "\\")[:8] not in str(found)
    assert any(e["reason"] == "invalid value (value_error)" for e in found)
