"""The docs page works offline, and the OpenAPI document declares the error answers the API really gives."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from sync.api.error_docs import ErrorBody, InvalidInputBody

ASSET_LINK = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_docs_page_names_no_external_host_and_its_assets_are_served(anonymous: TestClient) -> None:
    page = anonymous.get("/api/docs")
    assert page.status_code == 200
    assert "://" not in page.text  # no CDN, no favicon host, no online validator
    assets = ASSET_LINK.findall(page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for asset in assets:
        assert asset.startswith("/api/docs/static/")
        answer = anonymous.get(asset)
        assert answer.status_code == 200, asset
        assert len(answer.content) > 1000, asset
    assert "validatorUrl" in page.text and '"validatorUrl": null' in page.text


def _declared(document: dict[str, Any], path: str, method: str, status: int) -> str:
    """The schema name the document declares for this answer (fails when the status is not declared)."""
    responses = document["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} does not declare {status}: {sorted(responses)}"
    ref: str = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def _check(document: dict[str, Any], path: str, method: str, answer: Any, status: int) -> None:
    assert answer.status_code == status, answer.text
    models: dict[str, type[BaseModel]] = {"ErrorBody": ErrorBody, "InvalidInputBody": InvalidInputBody}
    model = models[_declared(document, path, method, status)]
    model.model_validate(answer.json())


def test_real_error_answers_are_declared_with_their_bodies(
    anonymous: TestClient, admin: TestClient, reader: TestClient
) -> None:
    document = anonymous.get("/api/openapi.json").json()
    item = "/api/accounts/{item_id}"
    _check(document, "/api/accounts", "get", anonymous.get("/api/accounts"), 401)
    _check(document, "/api/accounts", "get", anonymous.get("/api/accounts", headers={"X-API-Key": "wrong"}), 401)
    _check(document, "/api/accounts", "post", reader.post("/api/accounts", json={"name": "Reader's"}), 403)
    _check(document, item, "get", admin.get(f"/api/accounts/{uuid.uuid4()}"), 404)
    _check(document, "/api/accounts", "post", admin.post("/api/accounts", json=[]), 422)
    _check(document, "/api/accounts", "get", admin.get("/api/accounts", params={"continuation": "%%%"}), 400)
    created = admin.post("/api/accounts", json={"name": "Docs Ltd"}).json()
    stale = admin.patch(f"/api/accounts/{created['id']}", json={"name": "D2"}, headers={"If-Match": 'W/"stale"'})
    _check(document, item, "patch", stale, 412)


def test_fastapis_own_validation_shape_is_gone(anonymous: TestClient) -> None:
    document = anonymous.get("/api/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    health = document["paths"]["/api/health"]["get"]
    assert "security" not in health and "401" not in health["responses"]
    assert "503" in health["responses"]
