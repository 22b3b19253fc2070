"""Mounting the console on the admin API's FastAPI app: its routes, its static files, its error pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from sync.api.context import ApiContext
from sync.console import consent_page, insight_pages, mailbox_page, mailbox_pages, signin
from sync.console.errors import Refused, SignInRequired
from sync.console.services import STATE_KEY, ConsoleServices
from sync.console.templating import render

PREFIX = "/console"
STATIC = Path(__file__).resolve().parent / "static"


def install(app: FastAPI, context: ApiContext) -> None:
    """Serve the console under :data:`PREFIX` on ``app``; it authenticates its own requests (sessions)."""
    setattr(app.state, STATE_KEY, ConsoleServices(context))
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    app.include_router(signin.build_router())
    app.include_router(mailbox_pages.build_router())  # fixed paths (/mailboxes/bulk) before /mailboxes/{id}
    app.include_router(mailbox_page.build_router())
    app.include_router(consent_page.build_router(mailbox_page.render_page))
    insight_pages.install(app)

    @app.exception_handler(SignInRequired)
    def to_signin(request: Request, exc: SignInRequired) -> Response:
        if request.method != "GET":
            return render(request, "error.html", 401, person=None, message="Your session has ended: sign in again.")
        return RedirectResponse(f"{PREFIX}/signin", status_code=303)

    @app.exception_handler(Refused)
    def refused(request: Request, exc: Refused) -> HTMLResponse:
        return render(request, "error.html", exc.status, person=None, message=exc.message)
