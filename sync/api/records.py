"""Email-enabled records: users (with their filtering method), queues, contacts, accounts and leads.

Every write goes through :class:`~sync.crm.records.RecordService` (or provisioning, which uses it), so the
address index follows each change (R-RES-13); contacts through :class:`~sync.act.records.ActRecords`, which
uses it and also marks the owner's mailbox for ACT sync (see ``act.py``). Creating a user or queue creates its
mailbox (R-PROV-1); changing their address moves the mailbox's too and restarts approval (R-PROV-7);
deactivating a user deactivates its mailbox (R-PROV-15). Approval itself is an action on the mailbox.
"""

import contextlib
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel

from sync.api.act import act_resource, check_contact
from sync.api.context import ApiContext
from sync.api.resources import Resource, Shape, crud_router
from sync.errors import NotFound
from sync.model import Account, Contact, Lead, Queue, SystemUser
from sync.model.fields import EntityRef, Str36
from sync.model.options import FilteringMethod, StateCode
from sync.model.records import EmailEnabled
from sync.store.schema import owned_mailbox_id

R = TypeVar("R", bound=EmailEnabled)

_OWNER_READ_ONLY = frozenset({"default_mailbox_id", "approval"})  # set by provisioning and approval


def _reapply(fresh: R, stored: R, changed: R, skip: tuple[str, ...]) -> R:
    """Copy the caller's other changes onto a copy re-read after a service already wrote the record."""
    for name in type(stored).model_fields:
        if name not in skip and getattr(changed, name) != getattr(stored, name):
            setattr(fresh, name, getattr(changed, name))
    return fresh


def _remove_owner(ctx: ApiContext, record: SystemUser | Queue) -> None:
    """The record, then its mailbox (and the mailbox's schedule row)."""
    ctx.records.delete(record)
    ctx.read_cache.forget_record(record.entity_type, record.id)
    mailbox = ctx.store.find_mailbox(owned_mailbox_id(EntityRef(type=record.entity_type, id=record.id)))
    if mailbox is not None:
        ctx.store.mailboxes.delete(mailbox, if_unchanged=False)
        ctx.provisioning.release_address(mailbox)
        if mailbox.due_row_key:
            ctx.store.due_index.remove(mailbox.id, mailbox.due_row_key)


# --- users -----------------------------------------------------------------------------------------------------
USER = Shape(SystemUser, read_only=_OWNER_READ_ONLY)


def _insert_user(ctx: ApiContext, body: BaseModel) -> SystemUser:
    user, _ = ctx.provisioning.create_user(USER.build(body, ctx.box))
    return ctx.store.get_user(user.id)


def _cached(ctx: ApiContext, saved: R) -> R:
    """A user or queue just written: this instance's email routes (which read them cached) see it at once."""
    ctx.read_cache.put_record(saved)
    return saved


def _save_user(ctx: ApiContext, stored: SystemUser, changed: SystemUser) -> SystemUser:
    return _cached(ctx, _write_user(ctx, stored, changed))


def _write_user(ctx: ApiContext, stored: SystemUser, changed: SystemUser) -> SystemUser:
    if changed.internal_email_address == stored.internal_email_address and changed.state == stored.state:
        return ctx.records.update(changed)
    if changed.internal_email_address != stored.internal_email_address:
        ctx.provisioning.change_user_address(stored.id, changed.internal_email_address)
    if changed.state != stored.state:
        ctx.provisioning.set_user_state(stored.id, changed.state)
    fresh = _reapply(ctx.store.get_user(stored.id), stored, changed, ("internal_email_address", "state", "approval"))
    return ctx.records.update(fresh)


def _remove_user(ctx: ApiContext, user: SystemUser) -> None:
    _remove_owner(ctx, user)


USERS = Resource(
    path="/users",
    tag="users",
    shape=USER,
    repository=lambda store: store.users,
    row_key="record",
    filters={"state": StateCode, "is_disabled": bool, "incoming_filtering_method": FilteringMethod},
    insert=_insert_user,
    save=_save_user,
    remove=_remove_user,
    summary="Users with their incoming email filtering method; creating one creates its mailbox.",
)


# --- queues ----------------------------------------------------------------------------------------------------
QUEUE = Shape(Queue, read_only=_OWNER_READ_ONLY)


def _insert_queue(ctx: ApiContext, body: BaseModel) -> Queue:
    queue, _ = ctx.provisioning.create_queue(QUEUE.build(body, ctx.box))
    return ctx.store.get_queue(queue.id)


def _save_queue(ctx: ApiContext, stored: Queue, changed: Queue) -> Queue:
    return _cached(ctx, _write_queue(ctx, stored, changed))


def _write_queue(ctx: ApiContext, stored: Queue, changed: Queue) -> Queue:
    if changed.email_address == stored.email_address:
        return ctx.records.update(changed)
    ctx.provisioning.change_queue_address(stored.id, changed.email_address)
    fresh = _reapply(ctx.store.get_queue(stored.id), stored, changed, ("email_address", "approval"))
    return ctx.records.update(fresh)


def _remove_queue(ctx: ApiContext, queue: Queue) -> None:
    _remove_owner(ctx, queue)


QUEUES = Resource(
    path="/queues",
    tag="queues",
    shape=QUEUE,
    repository=lambda store: store.queues,
    row_key="record",
    filters={"state": StateCode, "incoming_filtering_method": FilteringMethod},
    insert=_insert_queue,
    save=_save_queue,
    remove=_remove_queue,
    summary="Queues; creating one creates its mailbox.",
)


# --- contacts (synced by ACT too), accounts, leads ------------------------------------------------------------
def _plain(path: str, model: type[R], repository: Any) -> Resource[R]:
    shape = Shape(model)

    def insert(ctx: ApiContext, body: BaseModel) -> R:
        return ctx.records.create(shape.build(body, ctx.box))

    def save(ctx: ApiContext, stored: R, changed: R) -> R:
        return ctx.records.update(changed)

    def remove(ctx: ApiContext, record: R) -> None:
        with contextlib.suppress(NotFound):
            ctx.records.delete(record)

    return Resource(
        path=f"/{path}",
        tag=path,
        shape=shape,
        repository=repository,
        row_key="record",
        filters={"state": StateCode},
        insert=insert,
        save=save,
        remove=remove,
        summary=f"{model.__name__} records; their addresses resolve parties.",
    )


CONTACTS = act_resource(
    Contact,
    "contacts",
    lambda store: store.contacts,
    filters={"state": StateCode, "owner_user_id": Str36},
    summary="Contact records; their addresses resolve parties, and ACT syncs them to their owner's mailbox.",
    check=check_contact,
)
ACCOUNTS = _plain("accounts", Account, lambda store: store.accounts)
LEADS = _plain("leads", Lead, lambda store: store.leads)


def build_routers() -> list[APIRouter]:
    return [crud_router(USERS), crud_router(QUEUES), crud_router(CONTACTS), crud_router(ACCOUNTS), crud_router(LEADS)]
