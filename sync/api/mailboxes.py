"""Mailboxes (spec §1.1): users' and queues' mailboxes come with their owner; forward mailboxes are created here.

Only configuration is writable; approval, test results, the lease, error counters and watermarks are the
service's (approve, reject and Test & Enable are actions, see ``mailbox_actions``). Changing the address goes
through provisioning so the owner follows and approval starts again (R-PROV-7); enabling a workload or
reactivating puts the mailbox on the schedule at once.
"""

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from sync.api.context import ApiContext
from sync.api.resources import Resource, Shape, crud_router
from sync.auth.consent_store import forget_consent
from sync.errors import ValidationFailed
from sync.mailboxes import start_date
from sync.model import Mailbox
from sync.model.fields import EmailAddress, Str36, Str200
from sync.model.options import IncomingDeliveryMethod, StateCode, TestStatus
from sync.scheduling.scheduler import schedule_now

WRITABLE = frozenset(
    {
        "name",
        "email_address",
        "state",
        "email_server_profile_id",
        "incoming_method",
        "outgoing_method",
        "act_method",
        "delete_emails_after_processing",
        "process_email_received_after",
        "allow_credentials_for_email_processing",
        "username",
        "enabled_for_incoming",
        "enabled_for_outgoing",
        "enabled_for_act",
        "test_email_configuration_scheduled",
        "postpone_test_email_configuration_until",
    }
)
SHAPE = Shape(
    Mailbox,
    secrets=("password",),
    read_only=frozenset(Mailbox.model_fields) - WRITABLE - {"password"},
    # cursors, UID lists, the dead-cycle marker: internal; the consent's refresh token: a secret, never shown
    hidden=frozenset({"watermarks", "in_progress", "oauth_refresh_token"}),
)
UNLINKED = ""  # the profile a password given while the mailbox had none is for: no profile at all
_FOLLOWED = (
    "email_address",
    "approval",
    "is_email_address_approved_by_o365_admin",
    "email_address_approved_by",
    "email_address_approved_on",
)


class ForwardMailboxCreate(BaseModel):
    """A stand-alone forward mailbox (R-FWD-3): no owner, receives only; users' and queues' come with them."""

    model_config = ConfigDict(extra="forbid")

    name: Str200 = Field(min_length=1, description="The mailbox's display name.")
    email_address: EmailAddress = Field(description="The address the forward mailbox receives.")
    email_server_profile_id: Str36 = Field(description="The email server profile it connects with.")
    delete_emails_after_processing: bool = Field(
        default=False, description="Delete each message from the mail server once it is processed. Default: no."
    )


def _insert(ctx: ApiContext, body: BaseModel) -> Mailbox:
    assert isinstance(body, ForwardMailboxCreate)
    return ctx.provisioning.create_forward_mailbox(
        body.name,
        body.email_address,
        body.email_server_profile_id,
        delete_emails_after_processing=body.delete_emails_after_processing,
    )


def _save(ctx: ApiContext, stored: Mailbox, changed: Mailbox) -> Mailbox:
    store = ctx.store
    new_profile = changed.email_server_profile_id
    if new_profile and new_profile != stored.email_server_profile_id and store.find_profile(new_profile) is None:
        raise ValidationFailed("no email server profile has this id", field="email_server_profile_id")
    if changed.password != stored.password:  # given in this request: for this profile's servers only
        changed.password_profile_id = new_profile or UNLINKED
    elif new_profile and new_profile not in (stored.email_server_profile_id, changed.password_profile_id):
        changed.password = None  # given for another profile's servers: never sent to this one's
    if new_profile not in (stored.email_server_profile_id, changed.oauth_refresh_token_profile_id):
        forget_consent(changed)  # a consent is given to one profile's OAuth client: it does not move along
    profiles = (store.find_profile(stored.email_server_profile_id or ""), store.find_profile(new_profile or ""))
    reread = start_date.apply_mailbox_change(
        stored, changed, profiles, now=ctx.clock(), max_days=ctx.settings.process_since_max_days
    )  # R-IN-4
    if changed.email_address != stored.email_address:
        if changed.email_address is None:
            raise ValidationFailed("a mailbox's address cannot be removed", field="email_address")
        moved = ctx.provisioning.change_mailbox_address(stored.id, changed.email_address)
        for name in Mailbox.model_fields:  # re-apply the caller's other changes on the moved copy
            if name not in _FOLLOWED and getattr(changed, name) != getattr(stored, name):
                setattr(moved, name, getattr(changed, name))
        changed = moved
    saved = store.mailboxes.update(changed)
    woke = any(
        getattr(saved, f) and not getattr(stored, f)
        for f in ("enabled_for_incoming", "enabled_for_outgoing", "enabled_for_act")
    )
    reactivated = saved.state is StateCode.ACTIVE and stored.state is not StateCode.ACTIVE
    if woke or reactivated or (reread and saved.enabled_for_incoming):
        saved = schedule_now(store, saved.id)
    return saved


def _remove(ctx: ApiContext, mailbox: Mailbox) -> None:
    if not mailbox.is_forward_mailbox:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "a user's or queue's mailbox goes with its owner: delete the owner, or deactivate the mailbox (state 1)",
        )
    ctx.store.mailboxes.delete(mailbox)
    ctx.provisioning.release_address(mailbox)
    if mailbox.due_row_key:
        ctx.store.due_index.remove(mailbox.id, mailbox.due_row_key)


RESOURCE = Resource(
    path="/mailboxes",
    tag="mailboxes",
    shape=SHAPE,
    repository=lambda store: store.mailboxes,
    row_key="mailbox",
    filters={
        "state": StateCode,
        "email_server_profile_id": str,
        "is_forward_mailbox": bool,
        "incoming_method": IncomingDeliveryMethod,
        "mailbox_status": TestStatus,
        "enabled_for_incoming": bool,
    },
    insert=_insert,
    save=_save,
    remove=_remove,
    create_body=ForwardMailboxCreate,
    summary="Mailboxes, paged; filter by state, profile, forward mailboxes, method, test status or enabled flag.",
)


def build_router() -> APIRouter:
    return crud_router(RESOURCE)
