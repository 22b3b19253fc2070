"""The console is served by the Functions app itself: the same ASGI function, reached through the host's routes."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path

import azure.functions as func
import pytest
from fastapi.testclient import TestClient

from tests.integration.console.conftest import ConsoleWorld

pytestmark = pytest.mark.integration

HOST_JSON = Path(__file__).resolve().parents[3] / "host.json"


def test_the_functions_host_forwards_every_path_of_the_app(console_world: ConsoleWorld) -> None:
    """The host serves an HTTP function's route under ``routePrefix``; the app's own paths start with /api and
    /console, so the prefix must be empty or /console never reaches the app in Azure."""
    prefix = json.loads(HOST_JSON.read_text())["extensions"]["http"]["routePrefix"]
    with TestClient(console_world.app) as client:
        for path in ("/api/health", "/console/signin"):
            assert client.get(path).status_code == 200
            assert path.startswith(f"/{prefix}"), f"routePrefix {prefix!r} keeps {path} from the app"


def test_the_asgi_function_serves_the_console(console_world: ConsoleWorld) -> None:
    """As the Functions host calls it: the console's sign-in page and its stylesheet, no API key needed."""
    app = func.AsgiFunctionApp(app=console_world.app, http_auth_level=func.AuthLevel.ANONYMOUS)
    handler = {f.get_function_name(): f for f in app.get_functions()}["http_app_func"].get_user_function()

    class Context:
        invocation_id = "test"
        function_name = "http_app_func"
        function_directory = "."
        trace_context = None
        retry_context = None

    try:
        for path, expected in (("/console/signin", b"Sign in"), ("/console/static/console.css", b"--focus")):
            request = func.HttpRequest(method="GET", url=f"https://sync.example{path}", body=b"", headers={})
            response = asyncio.run(handler(request, Context()))
            assert response.status_code == 200 and expected in response.get_body(), path
    finally:
        del app, handler
        gc.collect()  # its __del__ runs asyncio.run: now, not inside a later module's browser event loop
