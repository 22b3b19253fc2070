"""The Mailboxes grid page and its bulk actions (approve, Test & Enable, sync now, enable or disable a direction)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from sync.console import actions
from sync.console.access import Person, checked_form, current
from sync.console.errors import Refused
from sync.console.grid import GridFilter, grid_page
from sync.console.services import services
from sync.console.templating import render
from sync.operations.states import WorkloadState

STATES = [s.value for s in WorkloadState]


def _grid(
    request: Request, person: Person, wanted: GridFilter, page: str | None, results: list[actions.ActionResult]
) -> HTMLResponse:
    context = services(request).context
    found = grid_page(context.store, wanted, context.clock(), page)
    return render(
        request, "mailboxes.html", person=person, page=found, wanted=wanted, states=STATES, profiles=found.profiles,
        results=results, active="mailboxes",
    )  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/mailboxes")
    def mailboxes(
        request: Request,
        state: Annotated[str, Query(max_length=32)] = "",
        profile: Annotated[str, Query(max_length=36)] = "",
        errors: Annotated[str, Query(max_length=5)] = "",
        q: Annotated[str, Query(max_length=320)] = "",
        page: Annotated[str, Query(max_length=2000)] = "",
    ) -> HTMLResponse:
        person = current(request)
        wanted = GridFilter(
            state=state if state in STATES else "", profile_id=profile, errors_only=bool(errors), search=q
        )
        return _grid(request, person, wanted, page or None, [])

    @router.post("/mailboxes/bulk")
    async def bulk(request: Request) -> HTMLResponse:
        """Run one action on each selected mailbox and show each mailbox's result."""
        person, form = await checked_form(request)
        action = form.get("action")
        if action in actions.APPROVER_ACTIONS:
            person.require_approver()
        elif action in actions.ADMIN_ACTIONS:
            person.require_admin()
        else:
            raise Refused(400, f"unknown action {action!r}")
        direction = form.get("direction")
        if action in ("enable", "disable") and direction not in actions.DIRECTIONS:
            raise Refused(400, "choose a direction: incoming, outgoing or act")
        chosen = list(dict.fromkeys(form.all("mailbox")))
        if not chosen:
            raise Refused(400, "select at least one mailbox")
        if len(chosen) > actions.MAX_BULK:
            raise Refused(413, f"at most {actions.MAX_BULK} mailboxes per action")
        context = services(request).context
        results = [actions.run_one(context, action, mailbox_id, person.principal, direction) for mailbox_id in chosen]
        return _grid(request, person, GridFilter(), None, results)

    return router
