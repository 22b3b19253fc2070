"""Signing in and out: the one-time local link, Entra ID (authorization code with PKCE), and sign-out.

A successful sign-in answers with a small page that moves on to the console by itself rather than with a
redirect: the session cookie is ``SameSite=Strict``, and a browser does not send such a cookie on a redirect
chain that an identity provider's page started, so the first page would otherwise ask to sign in again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.api.auth import ADMIN_ROLE, APPROVER_ROLE, READER_ROLE
from sync.console.access import CONSOLE_ROLES, COOKIE, COOKIE_PATH, checked_form, current
from sync.console.entra_signin import SignInFailed
from sync.console.errors import Refused, SignInRequired
from sync.console.forms import read_form
from sync.console.services import services
from sync.console.sessions import SESSION_LIFETIME, ConsoleSession
from sync.console.templating import render

HOME = "/console/mailboxes"


def _signed_in(request: Request, cookie: str, session: ConsoleSession) -> HTMLResponse:
    page = render(request, "signed_in.html", person=None, next_url=HOME, name=session.name)
    page.set_cookie(
        COOKIE, cookie, max_age=int(SESSION_LIFETIME.total_seconds()), path=COOKIE_PATH, httponly=True,
        samesite="strict", secure=_is_https(request),
    )  # fmt: skip
    return page


def _finish_entra(request: Request, answer: dict[str, str]) -> HTMLResponse:
    """Redeem the provider's answer for the sign-in its ``state`` names, once; the ID token's roles decide."""
    console = services(request)
    flow = console.sessions.take_signin(answer.get("state", "")) if answer.get("state") else None
    if console.entra is None or flow is None:
        raise Refused(400, "This sign-in is unknown, expired or already finished. Sign in again.")
    try:
        person = console.entra.finish(flow, answer)
    except SignInFailed as exc:
        raise Refused(401, f"Entra ID did not sign you in: {exc}") from None
    if not person.roles & CONSOLE_ROLES:
        raise Refused(403, f"Your account has none of the app roles {ADMIN_ROLE}, {READER_ROLE}, {APPROVER_ROLE}.")
    return _signed_in(request, *console.sessions.open_session(person.user_id, person.name, person.roles, "entra"))


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    @router.get("")
    @router.get("/")
    def home() -> Response:
        return RedirectResponse(HOME, status_code=303)

    @router.get("/signin")
    def signin_page(request: Request) -> HTMLResponse:
        return render(request, "signin.html", person=None, entra=services(request).entra is not None)

    @router.get("/signin/link")
    def redeem_link(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
        opened = services(request).sessions.redeem_link(token) if token else None
        if opened is None:
            raise Refused(
                401, "This sign-in link is unknown, expired or already used. Restart `make dev` for a new one."
            )
        return _signed_in(request, *opened)

    @router.get("/signin/entra")
    def start_entra(request: Request, login_hint: Annotated[str | None, Query(max_length=320)] = None) -> Response:
        """To the identity provider; ``login_hint`` pre-fills the account there, as Entra ID allows."""
        console = services(request)
        if console.entra is None:
            raise Refused(404, "Entra ID sign-in is not configured for this deployment.")
        redirect_uri = console.context.settings.console_redirect_uri or str(request.url_for("entra_callback"))
        try:
            flow = console.entra.start(redirect_uri, login_hint)
        except SignInFailed as exc:
            raise Refused(502, str(exc)) from None
        console.sessions.save_signin(str(flow["state"]), flow)
        return RedirectResponse(str(flow["auth_uri"]), status_code=303)

    @router.get("/signin/callback", name="entra_callback")
    def entra_callback(request: Request) -> HTMLResponse:
        return _finish_entra(request, dict(request.query_params.items()))

    @router.post("/signin/callback")
    async def entra_form_post(request: Request) -> HTMLResponse:
        """Entra ID's ``form_post`` answer: the code in a form, not in the URL (RFC 9700 §4.3.1). The ``state``
        that must match a sign-in this app started is its CSRF protection."""
        form = await read_form(request, services(request).max_body_bytes)
        return _finish_entra(request, {name: form.get(name) for name in form.fields})

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        try:
            current(request)
        except SignInRequired:
            return RedirectResponse("/console/signin", status_code=303)
        await checked_form(request)  # any role may end its own session
        services(request).sessions.close_session(request.cookies.get(COOKIE, ""))
        answer = RedirectResponse("/console/signin", status_code=303)
        answer.delete_cookie(COOKIE, path=COOKIE_PATH)
        return answer

    return router
