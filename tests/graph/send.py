"""``POST /users/{id}/sendMail``, ``POST /users/{id}/messages`` (a draft) and ``POST .../messages/{id}/send``.

Each takes the message as JSON (a message resource) or as MIME: ``Content-Type: text/plain`` and the whole
RFC 5322 message base64-encoded in the body. MIME is the form that carries the sender's own Message-ID;
JSON can set ``internetMessageId`` only while the message is a draft, and its ``internetMessageHeaders``
accept only ``x-`` headers. sendMail and send answer 202 with no body and keep a copy in Sent Items.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from tests.graph.api import ApiError, Context, Reply, Request
from tests.graph.mime import compose
from tests.graph.wire import message_json

MIME_CONTENT_TYPE = "text/plain"


def send_mail(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    if req.content_type == MIME_CONTENT_TYPE:
        ctx.state.send(address, _mime(req))
        return Reply(202)
    body = req.json()
    message = body.get("message")
    if not isinstance(message, dict):
        raise ApiError(400, "ErrorInvalidParameter", "The message parameter is missing.")
    save = str(body.get("saveToSentItems", True)).lower() != "false"  # the docs' own example sends "false"
    ctx.state.send(address, compose(address, message), save_to_sent_items=save)
    return Reply(202)


def create(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    address = params["user"]
    mime = _mime(req) if req.content_type == MIME_CONTENT_TYPE else compose(address, req.json())
    return Reply.of_json(201, message_json(ctx.state.create_draft(address, mime)))


def send_draft(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    ctx.state.send_draft(params["user"], params["message"])
    return Reply(202)


def _mime(req: Request) -> bytes:
    try:
        return base64.b64decode(b"".join(req.body.split()), validate=True)  # line breaks allowed, as in the docs
    except (binascii.Error, ValueError):
        raise ApiError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.") from None
