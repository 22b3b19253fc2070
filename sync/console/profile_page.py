"""The profiles list and a profile's page: its settings, its mailboxes with their states, the share failing in the
last hour (R-ERR-7), and Test & Enable of every mailbox as background work with a progress page that polls.

Test & Enable never runs inside the request: the button queues one message per mailbox on the ``test-and-enable``
queue (the same function as ``POST /api/profiles/{id}/test-and-enable``) and redirects to the progress page, which
reads the mailboxes' rows and refreshes itself (a ``<meta http-equiv="refresh">``: no script needed) until
every mailbox was tested.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.api.profiles import SHAPE as PROFILE_SHAPE
from sync.console.access import checked_form, current
from sync.console.errors import Refused
from sync.console.services import services
from sync.console.templating import render
from sync.errors import NotFound
from sync.insights.profiles import read_overview
from sync.operations.summary import PROFILE_ALERT_SHARE
from sync.scheduling.test_enable_queue import profile_progress, request_profile_tests

ProfileId = Annotated[str, Path(min_length=1, max_length=64)]
REFRESH_SECONDS = 2  # the progress page reloads itself this often while a test is pending
HIDDEN_SETTINGS = frozenset({"id", "etag", "name", "created_on", "modified_on", "version_number"})


def _words(value: Any) -> str:
    if isinstance(value, dict) and "name" in value:
        return str(value["name"]).replace("_", " ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "not set" if value is None else str(value)


def settings_shown(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The profile as the API shows it (secrets only as "is set"), each value in words: pure."""
    return [
        (key.replace("_", " ").capitalize(), _words(value))
        for key, value in values.items()
        if key not in HIDDEN_SETTINGS
    ]


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console/profiles", include_in_schema=False)

    @router.get("")
    def profiles(request: Request) -> HTMLResponse:
        person = current(request)
        store = services(request).context.store
        found = sorted(store.profiles.query(), key=lambda p: p.name.casefold())
        snapshot = store.sync_totals.snapshot() or {}
        failing = {p["profile_id"]: p for p in snapshot.get("failing_profiles", [])}
        return render(request, "profiles.html", person=person, profiles=found, failing=failing, active="profiles")

    @router.get("/{profile_id}")
    def profile_page(request: Request, profile_id: ProfileId) -> HTMLResponse:
        person = current(request)
        context = services(request).context
        try:
            overview = read_overview(context.store, profile_id, context.clock())
        except NotFound:
            raise Refused(404, "No profile has this id.") from None
        return render(
            request, "profile.html", person=person, overview=overview, active="profiles",
            settings=settings_shown(PROFILE_SHAPE.output(overview.profile)), alert_share=PROFILE_ALERT_SHARE,
        )  # fmt: skip

    @router.post("/{profile_id}/test-and-enable")
    async def start_test(request: Request, profile_id: ProfileId) -> Response:
        person, _ = await checked_form(request)
        person.require_admin()
        context = services(request).context
        now = context.clock()
        try:
            request_profile_tests(context.store, profile_id, by=person.principal.id, now=now)
        except NotFound:
            raise Refused(404, "No profile has this id.") from None
        return RedirectResponse(
            f"/console/profiles/{quote(profile_id)}/test-and-enable?since={quote(now.isoformat())}", status_code=303
        )

    @router.get("/{profile_id}/test-and-enable")
    def test_progress(
        request: Request, profile_id: ProfileId, since: Annotated[datetime | None, Query()] = None
    ) -> HTMLResponse:
        person = current(request)
        context = services(request).context
        try:
            profile = context.store.get_profile(profile_id)
            progress = profile_progress(context.store, profile_id, since)
        except NotFound:
            raise Refused(404, "No profile has this id.") from None
        return render(
            request, "profile_test.html", person=person, profile=profile, progress=progress, active="profiles",
            refresh=REFRESH_SECONDS if progress.pending else None,
        )  # fmt: skip

    return router
