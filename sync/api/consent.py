"""Per-mailbox OAuth consent (personal Gmail, Workspace without delegation, delegated Microsoft 365).

``POST /api/mailboxes/{id}/oauth-consent`` (``Sync.Admin``) answers the provider's authorize URL; whoever owns the
mailbox opens it, signs in and consents; the provider redirects the browser to ``GET /api/oauth/callback``, which
needs no API key (a browser has none): the single-use, expiring state it carries is its authentication. The
callback stores the refresh token encrypted on the mailbox; no answer ever carries a code, state or token.
``DELETE`` on the first path forgets the consent. Then Test & Enable, as after a new password.

The console's mailbox page starts and forgets consents with the same functions (:func:`start_consent`,
:func:`forget_mailbox_consent`); the callback of a consent started there answers the browser with a page that
moves on to that mailbox page with the outcome in words (:mod:`sync.console.consent_outcome`), instead of JSON.
That page moves on by itself rather than by a redirect: the console's session cookie is ``SameSite=Strict``, and
a browser does not send it on a redirect chain the provider's page started.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from sync.api.auth import Admin
from sync.api.context import ApiContext, Ctx
from sync.api.guard import OAUTH_CALLBACK_PATH
from sync.api.resources import ItemId
from sync.auth.consent_flow import ConsentFailed, StartedConsent
from sync.auth.consent_store import forget_consent
from sync.console import consent_outcome
from sync.console.templating import render
from sync.model import Mailbox
from sync.model.consent import ConsentOrigin
from sync.model.fields import EmailAddress

MAX_QUERY_CHARS = 4096  # codes and states are short; anything longer is not from a provider


class ConsentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login_hint: EmailAddress | None = Field(
        default=None, description="The account to sign in with; default: the mailbox's address."
    )


class ConsentStarted(BaseModel):
    authorize_url: str = Field(description="Open it to sign in and consent; it works once, until expires_on.")
    redirect_uri: str = Field(
        description="Where the provider sends the browser back: register exactly this URI with the OAuth client."
    )
    expires_on: datetime = Field(description="The consent must be completed before this time.")


class ConsentRecorded(BaseModel):
    mailbox_id: str = Field(description="The mailbox that now logs in with its own OAuth consent.")
    consented_on: datetime | None = Field(description="When the consent was recorded.")
    detail: str = Field(description="What to do next.")


def redirect_uri(request: Request, configured: str | None) -> str:
    """``SYNC_OAUTH_REDIRECT_URI``, or this API's callback at the address the caller reached it by."""
    return configured or str(request.base_url).rstrip("/") + OAUTH_CALLBACK_PATH


def start_consent(
    ctx: ApiContext,
    request: Request,
    mailbox_id: str,
    *,
    by: str,
    started_from: ConsentOrigin,
    login_hint: str | None = None,
) -> StartedConsent:
    """Start a consent for the mailbox (the API's route and the console's button both come here)."""
    return ctx.consents.start(
        mailbox_id,
        redirect_uri(request, ctx.settings.oauth_redirect_uri),
        by=by,
        login_hint=login_hint,
        started_from=started_from,
    )


def forget_mailbox_consent(ctx: ApiContext, mailbox_id: str) -> Mailbox:
    """Drop the mailbox's consent: it logs in with its profile's credentials again (run Test & Enable)."""

    def drop(mailbox: Mailbox) -> None:
        forget_consent(mailbox)

    return ctx.store.mailboxes.modify(mailbox_id, "mailbox", drop)


def back_to_console(request: Request, mailbox_id: str, failure: ConsentFailed | None) -> HTMLResponse:
    """The page that sends the browser back to the console's mailbox page, telling how the consent ended."""
    if failure is None:
        path = consent_outcome.return_path(mailbox_id, None)
    else:
        path = consent_outcome.return_path(mailbox_id, failure.reason, failure.provider_error)
    outcome = consent_outcome.message(*_outcome_words(failure))
    status_code = status.HTTP_200_OK if failure is None else status.HTTP_400_BAD_REQUEST
    return render(request, "consent_returned.html", status_code, person=None, next_url=path, outcome=outcome)


def _outcome_words(failure: ConsentFailed | None) -> tuple[str, str]:
    if failure is None:
        return consent_outcome.RECORDED, ""
    return failure.reason.value, failure.provider_error or ""


def build_router() -> APIRouter:
    router = APIRouter(tags=["oauth consent"])

    @router.post(
        "/mailboxes/{mailbox_id}/oauth-consent",
        response_model=ConsentStarted,
        summary="Start a per-mailbox OAuth consent (authorization code with PKCE)",
    )
    def start(
        mailbox_id: ItemId, ctx: Ctx, principal: Admin, request: Request, body: ConsentRequest | None = None
    ) -> ConsentStarted:
        """The URL to open to consent for the mailbox at its profile's identity provider (Google for Gmail OAuth
        profiles, else Microsoft Entra ID). The profile must log in with OAuth and name its OAuth client."""
        started = start_consent(
            ctx,
            request,
            mailbox_id,
            by=principal.id,
            started_from=ConsentOrigin.API,
            login_hint=body.login_hint if body else None,
        )
        return ConsentStarted(
            authorize_url=started.authorize_url, redirect_uri=started.redirect_uri, expires_on=started.expires_on
        )

    @router.delete(
        "/mailboxes/{mailbox_id}/oauth-consent",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Forget the mailbox's OAuth consent",
    )
    def forget(mailbox_id: ItemId, ctx: Ctx, principal: Admin) -> None:
        """The mailbox logs in with its profile's credentials again (run Test & Enable)."""
        forget_mailbox_consent(ctx, mailbox_id)

    @router.get(OAUTH_CALLBACK_PATH.removeprefix("/api"), response_model=ConsentRecorded, summary="OAuth callback")
    def callback(
        ctx: Ctx,
        request: Request,
        state: Annotated[
            str, Query(max_length=MAX_QUERY_CHARS, description="The state the consent was started with.")
        ] = "",
        code: Annotated[
            str | None, Query(max_length=MAX_QUERY_CHARS, description="The authorization code, on consent.")
        ] = None,
        error: Annotated[
            str | None, Query(max_length=MAX_QUERY_CHARS, description="The provider's error (access_denied...).")
        ] = None,
    ) -> ConsentRecorded | HTMLResponse:
        """Where the identity provider sends the browser back after consent; open (the state authenticates it).
        A consent started on the console goes back to the console's mailbox page; one started here answers JSON."""
        try:
            finished = ctx.consents.finish(state, code, error)
        except ConsentFailed as exc:
            if exc.pending is not None and exc.pending.started_from == ConsentOrigin.CONSOLE:
                return back_to_console(request, exc.pending.mailbox_id, exc)
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        mailbox = finished.mailbox
        if finished.started_from == ConsentOrigin.CONSOLE:
            return back_to_console(request, mailbox.id, None)
        return ConsentRecorded(
            mailbox_id=mailbox.id,
            consented_on=mailbox.oauth_consented_on,
            detail="Consent recorded. Run Test & Enable on the mailbox to start using it.",
        )

    return router
