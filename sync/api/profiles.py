"""Email server profiles (spec §1.2): where and how mailboxes connect. Passwords and secrets are write-only.

Pointing a profile elsewhere clears the secrets given for the old endpoint (``sync.mailboxes.repointing``):
the answer's ``<secret>_is_set`` flags show which are gone; send them again in the same PATCH to keep the
profile usable. The token audience and Graph URL are Microsoft's unless the deployment opts in
(``sync.auth.audiences``).
"""

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel

from sync.api.context import ApiContext
from sync.api.resources import Resource, Shape, crud_router
from sync.auth.audiences import AudienceNotAllowed, check_token_audience
from sync.errors import ValidationFailed
from sync.mailboxes import start_date
from sync.mailboxes.gmail import password_login_refusal
from sync.mailboxes.repointing import moves_mailbox_credentials, secrets_to_clear
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import ServerType, StateCode

SHAPE = Shape(
    EmailServerProfile,
    secrets=("incoming_password", "outgoing_password", "oauth_client_secret", "google_service_account_key"),
    read_only=frozenset({"last_test_execution_status"}),
    long_secrets=frozenset({"google_service_account_key"}),
)


def _insert(ctx: ApiContext, body: BaseModel) -> EmailServerProfile:
    profile = SHAPE.build(body, ctx.box)
    _check_google_needs_oauth(ctx, profile)
    _check_audience(ctx, profile)
    _check_start_date(ctx, profile.process_emails_received_after)
    return ctx.store.profiles.insert(profile)


def _save(ctx: ApiContext, stored: EmailServerProfile, changed: EmailServerProfile) -> EmailServerProfile:
    """Save a PATCH; a moved endpoint drops the secrets given for the old one, the mailboxes' passwords too."""
    _check_google_needs_oauth(ctx, changed)
    _check_audience(ctx, changed)
    if changed.process_emails_received_after != stored.process_emails_received_after:
        _check_start_date(ctx, changed.process_emails_received_after)
    for secret in secrets_to_clear(stored, changed):
        setattr(changed, secret, None)
    saved = ctx.store.profiles.update(changed)
    if moves_mailbox_credentials(stored, changed):
        _clear_mailbox_passwords(ctx, saved.id)
    return saved


def _check_start_date(ctx: ApiContext, value: datetime | None) -> None:
    """R-IN-4: no further back than SYNC_PROCESS_SINCE_MAX_DAYS (it applies to the profile's new mailboxes)."""
    start_date.check_not_too_old(
        value, now=ctx.clock(), max_days=ctx.settings.process_since_max_days, field="process_emails_received_after"
    )


def _clear_mailbox_passwords(ctx: ApiContext, profile_id: str) -> None:
    def forget(mailbox: Mailbox) -> None:
        mailbox.password = None

    for mailbox in ctx.store.mailboxes.query("email_server_profile_id eq @p", {"p": profile_id}):
        if mailbox.password is not None:
            ctx.store.mailboxes.modify(mailbox.id, "mailbox", forget)


def _check_google_needs_oauth(ctx: ApiContext, profile: EmailServerProfile) -> None:
    """R-PROV-16: Google's servers take OAuth; a password login there is refused unless app passwords are allowed."""
    if ctx.settings.allow_google_app_passwords:
        return
    refusal = password_login_refusal(profile)
    if refusal is not None:
        raise ValidationFailed(refusal, field="incoming_credential_retrieval")


def _check_audience(ctx: ApiContext, profile: EmailServerProfile) -> None:
    if ctx.settings.allow_custom_token_audiences:
        return
    try:
        check_token_audience(profile)
    except AudienceNotAllowed as exc:
        raise ValidationFailed(str(exc), field=exc.field) from None


NAMED_USERS_AT_MOST = 10  # a 409 names this many mailboxes, then counts the rest


def users_of(ctx: ApiContext, profile: EmailServerProfile) -> list[str]:
    """What still depends on ``profile``, in words: the organization's default and each mailbox that uses it."""
    users = []
    if ctx.store.get_organization().default_email_server_profile_id == profile.id:
        users.append("the organization's default email server profile (default_email_server_profile_id)")
    mailboxes: list[Mailbox] = list(ctx.store.mailboxes.query("email_server_profile_id eq @p", {"p": profile.id}))
    for mailbox in mailboxes[:NAMED_USERS_AT_MOST]:
        users.append(f"mailbox {mailbox.name} ({mailbox.id})")
    if len(mailboxes) > NAMED_USERS_AT_MOST:
        users.append(f"{len(mailboxes) - NAMED_USERS_AT_MOST} more mailboxes")
    return users


def _remove(ctx: ApiContext, profile: EmailServerProfile) -> None:
    """A profile in use is never deleted: its mailboxes would silently stop. Move them to another profile first."""
    users = users_of(ctx, profile)
    if users:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the email server profile {profile.name} is in use by {'; '.join(users)}: give them another profile "
            "first (PATCH email_server_profile_id), then delete it",
        )
    ctx.store.profiles.delete(profile)


RESOURCE = Resource(
    path="/profiles",
    tag="profiles",
    shape=SHAPE,
    repository=lambda store: store.profiles,
    row_key="profile",
    filters={"state": StateCode, "server_type": ServerType},
    insert=_insert,
    save=_save,
    remove=_remove,
    summary="Email server profiles, paged; filter by state or server type.",
)


def build_router() -> APIRouter:
    return crud_router(RESOURCE)
