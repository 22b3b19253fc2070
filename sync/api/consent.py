"""Per-mailbox OAuth consent (personal Gmail, Workspace without delegation, delegated Microsoft 365).

``POST /api/mailboxes/{id}/oauth-consent`` (``Sync.Admin``) answers the provider's authorize URL; whoever owns the
mailbox opens it, signs in and consents; the provider redirects the browser to ``GET /api/oauth/callback``, which
needs no API key (a browser has none): the single-use, expiring state it carries is its authentication. The
callback stores the refresh token encrypted on the mailbox; no answer ever carries a code, state or token.
``DELETE`` on the first path forgets the consent. Then Test & Enable, as after a new password.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from sync.api.auth import Admin
from sync.api.context import Ctx
from sync.api.guard import OAUTH_CALLBACK_PATH
from sync.api.resources import ItemId
from sync.auth.consent_flow import ConsentFailed
from sync.auth.consent_store import forget_consent
from sync.model import Mailbox
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
        started = ctx.consents.start(
            mailbox_id,
            redirect_uri(request, ctx.settings.oauth_redirect_uri),
            by=principal.id,
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

        def drop(mailbox: Mailbox) -> None:
            forget_consent(mailbox)

        ctx.store.mailboxes.modify(mailbox_id, "mailbox", drop)

    @router.get(OAUTH_CALLBACK_PATH.removeprefix("/api"), response_model=ConsentRecorded, summary="OAuth callback")
    def callback(
        ctx: Ctx,
        state: Annotated[
            str, Query(max_length=MAX_QUERY_CHARS, description="The state the consent was started with.")
        ] = "",
        code: Annotated[
            str | None, Query(max_length=MAX_QUERY_CHARS, description="The authorization code, on consent.")
        ] = None,
        error: Annotated[
            str | None, Query(max_length=MAX_QUERY_CHARS, description="The provider's error (access_denied...).")
        ] = None,
    ) -> ConsentRecorded:
        """Where the identity provider sends the browser back after consent; open (the state authenticates it)."""
        try:
            mailbox = ctx.consents.finish(state, code, error)
        except ConsentFailed as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        return ConsentRecorded(
            mailbox_id=mailbox.id,
            consented_on=mailbox.oauth_consented_on,
            detail="Consent recorded. Run Test & Enable on the mailbox to start using it.",
        )

    return router
