"""Graph's change notification endpoint: ``POST /api/push/graph`` (and ``/lifecycle``), docs/push.md.

Graph first validates the URL: a POST with ``?validationToken=...`` must get the token back as text/plain
within 10 seconds. Afterwards each POST carries notifications; the answer is 202 as soon as their mailboxes
are claimed and queued (``sync/push/receiver.py``): no mail is read inside the request. A request whose every
notification is refused (unknown subscription, wrong clientState) gets 403; a body that is not a notification
collection 400. The FrontDoor middleware lets these two paths through without an API key (``guard.is_push``).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from sync.api.context import Ctx
from sync.push.notifications import MalformedNotification

MAX_TOKEN_CHARS = 1024  # Graph's validation tokens are far shorter; never echo an unbounded value


def build_router() -> APIRouter:
    router = APIRouter(prefix="/push", tags=["push"])

    async def notified(request: Request, ctx: Ctx) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:
            return PlainTextResponse(token[:MAX_TOKEN_CHARS], status_code=200)
        try:
            body = json.loads(await request.body() or b"null")
            report = await run_in_threadpool(ctx.push_receiver.receive, body)
        except (ValueError, MalformedNotification) as exc:
            return JSONResponse({"detail": f"not a change notification collection: {exc}"}, status_code=400)
        if report.all_refused:
            return JSONResponse({"detail": "no notification was accepted"}, status_code=403)
        return Response(status_code=202)

    router.add_api_route(
        "/graph", notified, methods=["POST"], summary="Graph change notifications (no API key: clientState)"
    )
    router.add_api_route(
        "/graph/lifecycle", notified, methods=["POST"], summary="Graph lifecycle notifications (clientState)"
    )
    return router
