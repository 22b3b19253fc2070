"""The console's pages built on the insights: profiles, the alerts wall, the dashboard, "why not tracked", and the
not-tracked explanation every page that lists such emails shows."""

from __future__ import annotations

from fastapi import FastAPI

from sync.console import alerts_page, dashboard_page, explanations, not_tracked_page, profile_page
from sync.console.templating import ENVIRONMENT


def install(app: FastAPI) -> None:
    explanations.register(ENVIRONMENT)
    for module in (profile_page, alerts_page, dashboard_page, not_tracked_page):
        app.include_router(module.build_router())
