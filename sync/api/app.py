"""The FastAPI application. Routes live under ``/api``, the prefix the Functions host gives HTTP routes.

Every route but the health probe needs an API key or an Entra ID token (see ``auth``); reading needs the
``Sync.Reader``, ``Sync.Approver`` or ``Sync.Admin`` role, changing anything ``Sync.Admin``, approving
``Sync.Approver``. One router per area; OpenAPI
documentation at ``/api/docs`` (open, like the health probe and ``/api/openapi.json``), served without a CDN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from sync.api import (
    act,
    activities,
    check_incoming,
    consent,
    docs,
    emails,
    errors,
    gmail_profiles,
    insights,
    mailbox_actions,
    mailboxes,
    monitoring,
    operations,
    organization,
    profiles,
    promote,
    push,
    records,
    sync_filters,
    tracking_folders,
)
from sync.api.auth import Authenticator, require_admin
from sync.api.context import ApiContext
from sync.api.error_docs import declare_errors
from sync.api.guard import FrontDoor
from sync.console.app import install as install_console
from sync.mail.port import ExchangeConnector, IncomingConnector
from sync.mailboxes.test_enable import SendMail, smtp_send
from sync.model.options import ServerType
from sync.settings import Settings, load_settings
from sync.store.store import Store


def create_app(
    settings: Settings | None = None,
    store_factory: Callable[[], Store] | None = None,
    *,
    connectors: Mapping[ServerType, IncomingConnector | ExchangeConnector] | None = None,
    send_mail: SendMail = smtp_send,
) -> FastAPI:
    """Build the admin app; settings are validated now, so a bad configuration fails at start-up."""
    settings = settings or load_settings()
    resolved = settings

    @cache
    def store() -> Store:
        return store_factory() if store_factory else Store.from_settings(resolved)

    app = FastAPI(
        title="Server-side email synchronization: admin API",
        description=(
            "Manage profiles, mailboxes and records (appointments, tasks and users' ACT sync filters too); "
            "Test & Enable; watch health, alerts and failures."
        ),
        docs_url=None,  # served by sync.api.docs, with local assets
        openapi_url=docs.OPENAPI_PATH,
        redoc_url=None,
    )
    app.state.context = ApiContext(settings, store, connectors, send_mail)
    app.state.authenticator = Authenticator(settings)
    app.add_middleware(FrontDoor, authenticator=app.state.authenticator, max_body_bytes=settings.api_max_body_bytes)
    errors.install(app)
    docs.install(app)

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

    api = APIRouter(prefix="/api")
    api.include_router(organization.build_router())
    api.include_router(gmail_profiles.build_router())  # before the CRUD routes: a fixed path
    api.include_router(profiles.build_router())
    api.include_router(mailbox_actions.build_router())  # before the CRUD routes: fixed paths first
    api.include_router(check_incoming.build_router())
    api.include_router(consent.build_router())
    api.include_router(promote.build_router())
    api.include_router(monitoring.build_router())
    api.include_router(insights.build_router())
    api.include_router(operations.build_router())  # before the CRUD routes: /mailboxes/health is a fixed path
    api.include_router(tracking_folders.build_router())
    api.include_router(mailboxes.build_router())
    for router in records.build_routers():
        api.include_router(router)
    api.include_router(sync_filters.build_router())
    for router in act.build_routers():
        api.include_router(router)
    api.include_router(activities.build_router())
    api.include_router(push.build_router())
    app.include_router(api)
    app.include_router(emails.router, dependencies=[Depends(require_admin)])  # create, send, tracking token
    install_console(app, app.state.context)  # the browser console under /console, with its own sign-in
    _document_errors(app)
    return app


def _document_errors(app: FastAPI) -> None:
    """The OpenAPI document, generated once, with the error answers the API really gives."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            ))  # fmt: skip
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
