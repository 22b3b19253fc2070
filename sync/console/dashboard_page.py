"""The dashboard: the last 24 hours per hour as inline SVG charts, each with its numbers in a table.

Series come from :func:`sync.insights.dashboard.read_dashboard` (three storage requests, whatever the number of
mailboxes); geometry from :mod:`sync.insights.charts`. No chart library and no script: the page works under the
console's Content-Security-Policy and without JavaScript.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sync.console.access import current
from sync.console.services import services
from sync.console.templating import render
from sync.insights.charts import Chart, stacked
from sync.insights.dashboard import Dashboard, read_dashboard

EMAIL_SERIES = ("tracked", "not_tracked", "quarantined")
SEND_SERIES = ("sent", "send_failed")
SERIES_WORDS = {
    "tracked": "Tracked", "not_tracked": "Not tracked", "quarantined": "Quarantined", "sent": "Sent",
    "send_failed": "Failed", "failing_mailboxes": "Failing mailboxes",
}  # fmt: skip


def charts(found: Dashboard) -> dict[str, Chart]:
    """The three hourly charts of the page (pure)."""
    labels = [f"{point.hour:%H}h" for point in found.hours]

    def chart(series: tuple[str, ...]) -> Chart:
        return stacked(labels, series, [[int(getattr(p, s) or 0) for s in series] for p in found.hours])

    return {"emails": chart(EMAIL_SERIES), "sends": chart(SEND_SERIES), "failing": chart(("failing_mailboxes",))}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/dashboard")
    def dashboard(request: Request) -> HTMLResponse:
        person = current(request)
        context = services(request).context
        found = read_dashboard(context.store, context.clock())
        top_reason = max((count for _, count in found.reasons), default=0)
        return render(
            request, "dashboard.html", person=person, found=found, charts=charts(found), words=SERIES_WORDS,
            top_reason=top_reason, active="dashboard",
        )  # fmt: skip

    return router
