"""'Why was this email not tracked?': search every mailbox by sender, Message-ID or subject, each hit with its
mailbox and what would track it (:mod:`sync.insights.search`, through the ``NotTrackedIndex``: no scan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from sync.console.access import current
from sync.console.explanations import explainer
from sync.console.templating import render
from sync.insights.explain import NOT_SEEN
from sync.insights.search import search
from sync.store.not_tracked_index import SearchKey

FIELDS = {"sender": SearchKey.SENDER, "message_id": SearchKey.MESSAGE_ID, "subject": SearchKey.SUBJECT}
FIELD_WORDS = {"sender": "Sender's address", "message_id": "Message-ID", "subject": "Subject"}
RESULTS = 50


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("/not-tracked")
    def not_tracked(
        request: Request,
        by: Annotated[str, Query(max_length=16)] = "sender",
        q: Annotated[str, Query(max_length=1024)] = "",
    ) -> HTMLResponse:
        person = current(request)
        by = by if by in FIELDS else "sender"
        hits = search(explainer(request), {FIELDS[by]: q}, limit=RESULTS) if q.strip() else None
        return render(
            request, "not_tracked.html", person=person, by=by, q=q, hits=hits, fields=FIELD_WORDS, note=NOT_SEEN,
            active="not-tracked",
        )  # fmt: skip

    return router
