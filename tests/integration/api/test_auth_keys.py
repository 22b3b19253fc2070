"""Every route but the health probe needs credentials; readers read, only administrators change anything."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.api.auth import API_KEY_HEADER
from sync.api.guard import OAUTH_CALLBACK_PATH, PUSH_PATHS

pytestmark = pytest.mark.integration

READ_METHODS = {"get"}
READ_ONLY_POSTS = {  # a POST only for its body: it creates nothing
    "/api/mailboxes/x1/check-incoming",
    "/api/emails/check-promote",
}


def operations(app: FastAPI) -> list[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return [(method, re.sub(r"\{[^}]+\}", "x1", path)) for path, ops in paths.items() for method in ops]


def test_the_health_probe_needs_no_credentials(anonymous: TestClient) -> None:
    assert anonymous.get("/api/health").status_code == 200


def test_every_other_route_answers_401_without_credentials(app: FastAPI, anonymous: TestClient) -> None:
    checked = 0
    for method, path in operations(app):
        if path in ("/api/health", OAUTH_CALLBACK_PATH) or path in PUSH_PATHS:  # own credentials (see their tests)
            continue
        response = anonymous.request(method, path, json={})
        assert response.status_code == 401, (method, path, response.text)
        assert API_KEY_HEADER in response.json()["detail"]
        assert response.headers["WWW-Authenticate"] == "Bearer"
        checked += 1
    assert checked > 30


def test_only_graphs_notification_paths_take_no_key_and_they_refuse_a_stranger(
    app: FastAPI, anonymous: TestClient
) -> None:
    """Graph has no key of ours: each notification is authenticated by its subscription's clientState."""
    open_posts = {path for method, path in operations(app) if path in PUSH_PATHS and method == "post"}
    assert open_posts == {"/api/push/graph", "/api/push/graph/lifecycle"} == set(PUSH_PATHS)
    for path in PUSH_PATHS:
        stranger = {"value": [{"subscriptionId": "unknown", "clientState": "guess", "changeType": "created"}]}
        assert anonymous.post(path, json=stranger).status_code == 403
        assert anonymous.post(path + "x", json=stranger).status_code == 401


def test_a_wrong_key_is_refused_with_a_clear_message(anonymous: TestClient) -> None:
    response = anonymous.get("/api/profiles", headers={API_KEY_HEADER: "wrong"})
    assert response.status_code == 401
    assert "not hold a valid API key" in response.json()["detail"]


def test_bearer_tokens_are_refused_when_entra_is_not_configured(anonymous: TestClient) -> None:
    response = anonymous.get("/api/profiles", headers={"Authorization": "Bearer abc.def.ghi"})
    assert response.status_code == 401
    assert "not configured" in response.json()["detail"]


def test_a_reader_reads_but_every_change_is_403(app: FastAPI, reader: TestClient) -> None:
    assert reader.get("/api/profiles").status_code == 200
    assert reader.get("/api/alerts").status_code == 200
    assert reader.post("/api/mailboxes/x1/check-incoming", json={"mime": "Subject: x\r\n\r\n"}).status_code == 404
    changes = [(m, p) for m, p in operations(app) if m not in READ_METHODS and p not in READ_ONLY_POSTS | PUSH_PATHS]
    assert changes
    for method, path in changes:
        response = reader.request(method, path, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert "Sync.Admin" in response.json()["detail"]


def test_approving_and_test_and_enable_need_the_admin_role(reader: TestClient) -> None:
    for action in ("approve", "reject", "test-and-enable", "apply-default-email-settings"):
        assert reader.post(f"/api/mailboxes/m1/{action}").status_code == 403
