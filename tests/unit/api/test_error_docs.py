"""Which error answers the OpenAPI document declares for an operation, by rule."""

from __future__ import annotations

from typing import Any

from sync.api.error_docs import answers_of, declare_errors

SECURED: dict[str, Any] = {"security": [{"APIKeyHeader": []}]}
IF_MATCH = {"in": "header", "name": "if-match"}
ITEM_ID = {"in": "path", "name": "item_id"}


def test_an_open_operation_without_input_declares_nothing() -> None:
    assert answers_of("/api/health", "get", {}) == []


def test_a_secured_list_with_a_continuation_token() -> None:
    operation = {**SECURED, "parameters": [{"in": "query", "name": "continuation"}]}
    assert answers_of("/api/alerts", "get", operation) == [400, 401, 403, 422]


def test_an_update_with_if_match() -> None:
    operation = {**SECURED, "parameters": [ITEM_ID, IF_MATCH], "requestBody": {}}
    assert answers_of("/api/accounts/{item_id}", "patch", operation) == [401, 403, 404, 409, 412, 413, 422]


def test_declared_422_replaces_fastapis_shape() -> None:
    document: dict[str, Any] = {
        "paths": {
            "/api/x": {
                "post": {
                    **SECURED,
                    "requestBody": {},
                    "responses": {
                        "422": {"content": {"application/json": {"schema": {"$ref": "#/a/HTTPValidationError"}}}}
                    },
                }
            }
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}}},
    }
    declared = declare_errors(document)
    schema = declared["paths"]["/api/x"]["post"]["responses"]["422"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/InvalidInputBody"}
    assert "HTTPValidationError" not in declared["components"]["schemas"]
    assert "FieldProblem" in declared["components"]["schemas"]
