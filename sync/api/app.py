"""The FastAPI application. Routes live under ``/api``, the prefix the Functions host gives HTTP routes.

Only the health probe exists at this stage; later areas add routers (profiles, mailboxes, Test & Enable,
alerts, sending), each behind authentication.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from sync.settings import Settings, load_settings
from sync.store.store import Store


def create_app(settings: Settings | None = None, store_factory: Callable[[], Store] | None = None) -> FastAPI:
    """Build the admin app; settings are validated now, so a bad configuration fails at start-up."""
    settings = settings or load_settings()

    @cache
    def store() -> Store:
        return store_factory() if store_factory else Store.from_settings(settings)

    app = FastAPI(
        title="Server-side email synchronization: admin API",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )

    @app.get("/api/health", tags=["health"])
    def health() -> JSONResponse:
        """Whether the service runs and its storage answers (no authentication: a probe calls it)."""
        try:
            store().account.ping()
        except Exception as exc:  # any storage failure makes the service unhealthy
            return JSONResponse(
                status_code=503,
                content={"status": "unhealthy", "storage": "unreachable", "error": type(exc).__name__},
            )
        return JSONResponse(content={"status": "ok", "storage": "ok"})

    return app
