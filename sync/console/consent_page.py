"""A mailbox's OAuth consent on its console page: whether it holds one (and since when), Connect and Forget.

The panel shows only for a mailbox whose profile can start a consent, by the rule the API's start applies
(:func:`~sync.auth.consent_flow.consent_refusal`). **Connect** starts the consent with the API's own function
and answers 303 to the provider's authorize URL; the provider sends the browser back to the API's callback,
which sends it back here (:mod:`sync.console.consent_outcome`). **Forget** drops the consent as
``DELETE /api/mailboxes/{id}/oauth-consent`` does. Both need ``Sync.Admin`` and the session's CSRF token. The page
never shows the refresh token, only that one is held and when it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sync.api.consent import forget_mailbox_consent, start_consent
from sync.api.context import ApiContext
from sync.auth import consent_provider
from sync.auth.consent_flow import consent_refusal
from sync.auth.mail_tokens import has_consent
from sync.console import actions
from sync.console.access import Person, checked_form
from sync.console.errors import Refused
from sync.console.services import services
from sync.errors import NotFound, SyncError
from sync.model import EmailServerProfile, Mailbox
from sync.model.consent import ConsentOrigin

MailboxId = Annotated[str, Path(min_length=1, max_length=64)]
PROVIDER_NAMES = {consent_provider.GOOGLE: "Google", consent_provider.MICROSOFT: "Microsoft"}


class PageRenderer(Protocol):
    """The mailbox page (``sync.console.mailbox_page.render_page``), with a message or problems."""

    def __call__(self, request: Request, person: Person, mailbox_id: str, **extra: Any) -> HTMLResponse: ...


@dataclass(frozen=True)
class ConsentPanel:
    """What the mailbox page shows about the consent."""

    provider: str  # "Google" or "Microsoft": the button says whom the person signs in with
    held: bool
    consented_on: datetime | None
    authorize_origin: str  # the Connect form ends there: the page's Content-Security-Policy must allow it


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def consent_panel(context: ApiContext, mailbox: Mailbox, profile: EmailServerProfile | None) -> ConsentPanel | None:
    """The panel for a mailbox that can consent; None when its profile does not take per-mailbox consent."""
    if profile is None or consent_refusal(profile) is not None:
        return None
    chosen = consent_provider.consent_provider(profile, context.settings.entra_authority)
    return ConsentPanel(
        provider=PROVIDER_NAMES.get(chosen.name, chosen.name),
        held=has_consent(mailbox),
        consented_on=mailbox.oauth_consented_on,
        authorize_origin=origin(chosen.authorize_endpoint),
    )


def build_router(render_page: PageRenderer) -> APIRouter:
    """The Connect and Forget actions; ``render_page`` answers them with the mailbox page (it shows the panel)."""
    router = APIRouter(prefix="/console/mailboxes", include_in_schema=False)

    @router.post("/{mailbox_id}/oauth-consent")
    async def connect(request: Request, mailbox_id: MailboxId) -> Response:
        """Start the consent and send the browser to the provider, which sends it back through the callback."""
        person, _ = await checked_form(request)
        person.require_admin()
        context = services(request).context
        try:
            started = start_consent(
                context, request, mailbox_id, by=person.principal.id, started_from=ConsentOrigin.CONSOLE
            )
        except NotFound:
            raise Refused(404, "No mailbox has this id.") from None
        except SyncError as exc:
            return render_page(request, person, mailbox_id, problems=[str(exc)])
        return RedirectResponse(started.authorize_url, status_code=303)

    @router.post("/{mailbox_id}/oauth-consent/forget")
    async def forget(request: Request, mailbox_id: MailboxId) -> HTMLResponse:
        person, _ = await checked_form(request)
        person.require_admin()
        try:
            forget_mailbox_consent(services(request).context, mailbox_id)
        except NotFound:
            raise Refused(404, "No mailbox has this id.") from None
        done = actions.ActionResult(
            mailbox_id, "", True, "Consent forgotten: the mailbox no longer signs in with it. Run Test & Enable."
        )
        return render_page(request, person, mailbox_id, message=done)

    return router
