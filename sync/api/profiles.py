"""Email server profiles (spec §1.2): where and how mailboxes connect. Passwords and secrets are write-only."""

from fastapi import APIRouter
from pydantic import BaseModel

from sync.api.context import ApiContext
from sync.api.resources import Resource, Shape, crud_router
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import ServerType, StateCode

SHAPE = Shape(
    EmailServerProfile,
    secrets=("incoming_password", "outgoing_password", "oauth_client_secret"),
    read_only=frozenset({"last_test_execution_status"}),
)


def _insert(ctx: ApiContext, body: BaseModel) -> EmailServerProfile:
    return ctx.store.profiles.insert(SHAPE.build(body, ctx.box))


def _remove(ctx: ApiContext, profile: EmailServerProfile) -> None:
    """Deleting a profile unlinks its mailboxes (RemoveLink, spec §1.2); they stop until given another."""
    for mailbox in ctx.store.mailboxes.query("email_server_profile_id eq @p", {"p": profile.id}):

        def unlink(m: Mailbox) -> None:
            m.email_server_profile_id = None

        ctx.store.mailboxes.modify(mailbox.id, "mailbox", unlink)
    ctx.store.profiles.delete(profile)


RESOURCE = Resource(
    path="/profiles",
    tag="profiles",
    shape=SHAPE,
    repository=lambda store: store.profiles,
    row_key="profile",
    filters={"state": StateCode, "server_type": ServerType},
    insert=_insert,
    remove=_remove,
    summary="Email server profiles, paged; filter by state or server type.",
)


def build_router() -> APIRouter:
    return crud_router(RESOURCE)
