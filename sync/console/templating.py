"""The console's Jinja2 environment: templates from this package, autoescaped, with the filters pages share.

Jinja2 is the template engine FastAPI and Starlette document, maintained by Pallets, with autoescaping, so
every value (subjects and sender names are attacker-controlled) is escaped unless a template says otherwise,
which none does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from sync.console import words
from sync.insights.reason_words import reason_words

# Pages may load only this app's own scripts, styles and images; no frame may embed them (clickjacking).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a sign-in link's token never leaves in a Referer header
    "Cache-Control": "no-store",  # pages show live state and a CSRF token
    "X-Frame-Options": "DENY",
}


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def build_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sync.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt variable fails the test that renders the page, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["state_word"] = words.state_word
    env.globals["state_tone"] = words.state_tone
    env.globals["reason_words"] = reason_words
    return env


ENVIRONMENT = build_environment()


def render(
    request: Request, template: str, status_code: int = 200, *, form_action_also: Sequence[str] = (), **values: Any
) -> HTMLResponse:
    """A page: the template with ``values`` plus the request, with the console's security headers.

    ``form_action_also``: origins a form of the page may end at besides the app (a form whose answer redirects
    to an identity provider: browsers check ``form-action`` on the redirect too)."""
    html = ENVIRONMENT.get_template(template).render(request=request, **values)
    headers = SECURITY_HEADERS
    if form_action_also:
        policy = headers["Content-Security-Policy"].replace(
            "form-action 'self'", " ".join(["form-action 'self'", *form_action_also])
        )
        headers = {**headers, "Content-Security-Policy": policy}
    return HTMLResponse(html, status_code=status_code, headers=headers)
