"""``POST /$batch``: JSON batching, at most 20 requests, each answered with its own status.

Sub-requests run in order through the same dispatcher as direct calls (so armed faults and call counts
apply to them too); ``dependsOn`` on a failed or unknown request gives 424. A sub-request's ``url`` is
relative to the version (``/users/...``); a JSON body is an object, any other body is a string (base64 MIME
for ``text/plain``). Bodies that are not JSON come back base64-encoded, as Graph returns binary content.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from tests.graph.api import JSON, ApiError, Context, Reply, Request

MAX_REQUESTS = 20  # Graph's limit per batch


def run(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    requests = req.json().get("requests")
    if not isinstance(requests, list) or not 1 <= len(requests) <= MAX_REQUESTS:
        raise ApiError(400, "BadRequest", f"A batch holds between 1 and {MAX_REQUESTS} requests.")
    ids = [str(item.get("id", "")).lower() for item in requests if isinstance(item, dict)]
    if len(ids) != len(requests) or len(set(ids)) != len(ids) or "" in ids:
        raise ApiError(400, "BadRequest", "Every request in a batch needs an id unique in the batch.")
    statuses: dict[str, int] = {}
    responses = []
    for item in requests:
        failed = [d for d in item.get("dependsOn") or [] if statuses.get(str(d).lower(), 424) >= 400]
        reply = (
            Reply.error(424, "FailedDependency", f"A request this one depends on failed: {failed}")
            if failed
            else ctx.dispatch(_sub_request(req, item))
        )
        statuses[str(item["id"]).lower()] = reply.status
        responses.append(_response(str(item["id"]), reply))
    return Reply.of_json(200, {"responses": responses})


def _sub_request(outer: Request, item: Mapping[str, Any]) -> Request:
    url = urllib.parse.urlsplit("/" + str(item.get("url", "")).lstrip("/"))
    headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
    body = item.get("body")
    if body is not None and "content-type" not in headers:
        raise ApiError(400, "BadRequest", f"Request {item['id']} has a body but no Content-Type header.")
    raw = b"" if body is None else body.encode() if isinstance(body, str) else json.dumps(body).encode()
    query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    auth = {"authorization": outer.headers.get("authorization", "")}
    return Request(str(item.get("method", "GET")).upper(), url.path, query, {**auth, **headers}, raw, outer.base_url)


def _response(request_id: str, reply: Reply) -> dict[str, Any]:
    response: dict[str, Any] = {
        "id": request_id,
        "status": reply.status,
        "headers": {"Content-Type": reply.content_type, **reply.headers},
    }
    if reply.body:
        response["body"] = reply.json() if reply.content_type == JSON else base64.b64encode(reply.body).decode()
    return response
