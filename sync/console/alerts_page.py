"""The organization's alerts wall: every open alert of every mailbox and profile, newest first, with dismiss.

One page of the ``Alerts`` table filtered on ``dismissed eq false`` per view (100 alerts, then a link to the
next page), never a read per mailbox. Dismissing is the API's own change (``POST /api/alerts/.../dismiss``):
a repeat of the error shows the alert again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from sync.console.access import Person, checked_form, current
from sync.console.errors import Refused
from sync.console.services import services
from sync.console.templating import render
from sync.errors import NotFound, StoreError
from sync.model import Alert
from sync.model.options import EntityType
from sync.store.schema import alert_row_key

PAGE_SIZE = 100
OPEN = "dismissed eq false"


def link_of(alert: Alert) -> str | None:
    """Where the alert's record is shown in the console (pure)."""
    if alert.regarding.type is EntityType.MAILBOX:
        return f"/console/mailboxes/{alert.regarding.id}"
    if alert.regarding.type is EntityType.EMAIL_SERVER_PROFILE:
        return f"/console/profiles/{alert.regarding.id}"
    if alert.mailbox_id:
        return f"/console/mailboxes/{alert.mailbox_id}"
    return None


def _wall(request: Request, person: Person, page: str | None, **extra: Any) -> HTMLResponse:
    store = services(request).context.store
    try:
        found = store.alerts.query_page(OPEN, {}, page_size=PAGE_SIZE, continuation=page)
    except StoreError:
        raise Refused(400, "This page link is not valid any more: start from the first page.") from None
    alerts = sorted(found.items, key=lambda a: a.last_seen_on, reverse=True)
    values: dict[str, Any] = {
        "person": person, "alerts": alerts, "next_page": found.continuation, "link_of": link_of, "active": "alerts",
        "message": None,
    }  # fmt: skip
    values.update(extra)
    return render(request, "alerts.html", **values)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console/alerts", include_in_schema=False)

    @router.get("")
    def alerts_wall(request: Request, page: Annotated[str, Query(max_length=2000)] = "") -> HTMLResponse:
        return _wall(request, current(request), page or None)

    @router.post("/{regarding_id}/{code}/dismiss")
    async def dismiss(
        request: Request, regarding_id: Annotated[str, Path(min_length=1, max_length=64)], code: int
    ) -> HTMLResponse:
        person, _ = await checked_form(request)
        person.require_admin()

        def dismissed(alert: Alert) -> None:
            alert.dismissed = True

        try:
            services(request).context.store.alerts.modify(regarding_id, alert_row_key(code), dismissed)
        except NotFound:
            raise Refused(404, "This alert is gone.") from None
        return _wall(request, person, None, message="alert dismissed")

    return router
