"""Reading a console form: URL-encoded, size-capped before it is read whole, and checked for its CSRF token.

The console's forms are small (ids, a few settings), so a body is parsed with the standard library rather than
a multipart parser; a body over ``SYNC_API_MAX_BODY_BYTES`` is refused with 413 as the API does.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request

from sync.console.errors import Refused
from sync.console.sessions import ConsoleSession

CSRF_FIELD = "csrf_token"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Form:
    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))


async def read_form(request: Request, max_bytes: int) -> Form:
    """The request's form; 413 beyond ``max_bytes``, 415 for anything but a URL-encoded form."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise Refused(415, f"the console accepts {FORM_TYPE} forms only")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > max_bytes:
            raise Refused(413, f"the form is larger than {max_bytes} bytes (SYNC_API_MAX_BODY_BYTES)")
    try:
        text = received.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the form is not UTF-8") from None
    return Form(parse_qs(text, keep_blank_values=True, max_num_fields=10_000))


def check_csrf(form: Form, session: ConsoleSession) -> None:
    """The synchronizer token of the session must come back in the form: a page of another site cannot know it."""
    sent = form.get(CSRF_FIELD)
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise Refused(403, "the form's CSRF token is missing or does not belong to this session; reload the page")
