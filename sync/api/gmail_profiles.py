"""``POST /api/profiles/gmail``: a profile with Google's defaults (R-PROV-16), as Dynamics' Gmail profile template.

IMAP/SMTP (``imap.gmail.com`` 993, ``smtp.gmail.com`` 587) or, with ``pop3``, POP3/SMTP (``pop.gmail.com`` 995 in
recent mode), logging in with Gmail OAuth: the service account key for domain-wide delegation, and/or an OAuth
client for per-mailbox consent. Every field can be changed afterwards with PATCH like any profile's.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from sync.api import profiles
from sync.api.auth import Admin
from sync.api.context import Ctx
from sync.api.resources import LONG_SECRET_CHARS, SECRET_CHARS
from sync.auth.secrets import seal_field
from sync.mailboxes.gmail import gmail_defaults
from sync.model import EmailServerProfile
from sync.model.fields import EmailAddress, Str100, Str1024, Str2000
from sync.model.options import ServerType


class GmailProfileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Str100 = Field(min_length=1, description="The profile's name.")
    pop3: bool = Field(
        default=False,
        description="POP3/SMTP (pop.gmail.com 995, in Gmail's recent mode) instead of IMAP/SMTP (imap.gmail.com 993).",
    )
    description: Str2000 | None = Field(default=None, description="Notes for administrators.")
    owner_email_address: EmailAddress | None = Field(default=None, description="Receives profile-level alerts.")
    google_service_account_key: SecretStr | None = Field(
        default=None,
        max_length=LONG_SECRET_CHARS,
        description="The JSON key of a service account with domain-wide delegation for https://mail.google.com/ "
        "(Google Workspace). Write-only.",
    )
    oauth_client_id: Str1024 | None = Field(
        default=None, description="The OAuth client (web application) that per-mailbox consents are given to."
    )
    oauth_client_secret: SecretStr | None = Field(
        default=None, max_length=SECRET_CHARS, description="That client's secret. Write-only."
    )


def build_router() -> APIRouter:
    router = APIRouter(tags=["profiles"])

    @router.post(
        "/profiles/gmail",
        response_model=profiles.SHAPE.output_model(),
        status_code=status.HTTP_201_CREATED,
        summary="Create a Gmail profile (Google's servers, OAuth)",
    )
    def create_gmail_profile(body: GmailProfileCreate, ctx: Ctx, _: Admin, response: Response) -> dict[str, Any]:
        """Google's servers and ports with Gmail OAuth (R-PROV-16): username and password access ended in 2022."""
        server_type = ServerType.POP3_SMTP if body.pop3 else ServerType.IMAP_SMTP
        profile = EmailServerProfile(
            name=body.name,
            description=body.description,
            owner_email_address=body.owner_email_address,
            oauth_client_id=body.oauth_client_id,
            **gmail_defaults(server_type),
        )
        for secret in ("google_service_account_key", "oauth_client_secret"):
            value: SecretStr | None = getattr(body, secret)
            if value is not None:
                seal_field(ctx.box, profile, secret, value.get_secret_value())
        saved = ctx.store.profiles.insert(profile)
        response.headers["ETag"] = saved.etag or ""
        return profiles.SHAPE.output(saved)

    return router
