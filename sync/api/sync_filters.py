"""Each user's ACT sync filters (R-ACT-3): which appointments, contacts and tasks go to the user's mailbox.

One filter per user and record type (appointment 4201, contact 2, task 4212). A user without a filter of
their own for a type gets the default template (``DEFAULT_FILTERS``: appointments they organize or attend,
contacts and tasks they own), listed with ``is_default: true``. PUT sets the user's own rule; DELETE returns
the type to the default.

The ACT cycle reads the filters each time it runs and applies them to the records it looks at. A changed
filter marks every record of that type already in the user's mailbox for the next cycle, so those it no
longer selects leave Exchange then (R-ACT-4); a record it newly selects arrives when it next changes.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from sync.api.auth import Admin, Reader
from sync.api.context import ApiContext, Ctx
from sync.api.readable import OptionSet, option_name
from sync.api.resources import IfMatch, ItemId, check_if_match
from sync.errors import ConcurrencyConflict, ValidationFailed
from sync.model.act import DEFAULT_FILTERS, FilterRule, SyncFilter
from sync.model.fields import EntityRef, Str256
from sync.model.options import EntityType
from sync.store.schema import owned_mailbox_id

SYNCED_TYPES = ", ".join(f"{option_name(t)} = {int(t)}" for t in DEFAULT_FILTERS)
RULES = "nothing (0), owned (1), party: organizer or required attendee (2), party_or_owned (3)"
ObjectType = Annotated[
    int, OptionSet(EntityType), Path(description=f"The record type, by name (any case) or number: {SYNCED_TYPES}.")
]


class SyncFilterOut(BaseModel):
    user_id: str = Field(description="The user the filter belongs to.")
    object_type: Annotated[int, OptionSet(EntityType)] = Field(description=f"The record type: {SYNCED_TYPES}.")
    rule: Annotated[int, OptionSet(FilterRule)] = Field(description=f"What syncs: {RULES}.")
    name: str | None = Field(default=None, description="The filter's name.")
    is_default: bool = Field(description="True: the user has no filter of their own; the default template applies.")
    modified_on: datetime | None = Field(default=None, description="When the user's filter was last changed.")
    etag: str | None = Field(default=None, description="Send it back in If-Match to change or reset the filter.")


class SyncFilterList(BaseModel):
    items: list[SyncFilterOut] = Field(description="One filter per record type that syncs.")


class SyncFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: Annotated[int, OptionSet(FilterRule)] = Field(description=f"What syncs: {RULES}.")
    name: Str256 | None = Field(default=None, description="The filter's name.")


def _synced(object_type: EntityType) -> EntityType:
    if object_type not in DEFAULT_FILTERS:
        raise ValidationFailed(f"this record type does not sync with Exchange: use {SYNCED_TYPES}", field="object_type")
    return object_type


def _output(user_id: str, object_type: EntityType, stored: SyncFilter | None) -> dict[str, Any]:
    if stored is None:
        rule = DEFAULT_FILTERS[object_type]
        return {"user_id": user_id, "object_type": object_type, "rule": rule, "is_default": True}
    shown = stored.model_dump(include={"user_id", "object_type", "rule", "name", "modified_on"})
    return {**shown, "is_default": False, "etag": stored.etag}


def _find(ctx: ApiContext, user_id: str, object_type: EntityType) -> SyncFilter | None:
    row_key = str(int(_synced(object_type)))
    ctx.store.get_user(user_id)  # 404 for an unknown user
    return ctx.store.sync_filters.find(user_id, row_key)


def _recheck(ctx: ApiContext, user_id: str, object_type: EntityType) -> None:
    """The user's linked records of the type go through the new filter in the next ACT cycle."""
    mailbox_id = owned_mailbox_id(EntityRef(type=EntityType.SYSTEM_USER, id=user_id))
    links = ctx.store.act_links
    for link in list(links.of_type(mailbox_id, object_type)):
        links.note_change(mailbox_id, object_type, link.object_id, link.crm_version, deleted=link.deleted_in_crm)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/users/{user_id}/sync-filters", tags=["sync filters"])

    @router.get("", response_model=SyncFilterList, summary="The user's ACT sync filter for each record type")
    def list_filters(user_id: ItemId, ctx: Ctx, _: Reader) -> dict[str, Any]:
        ctx.store.get_user(user_id)
        own = {f.object_type: f for f in ctx.store.sync_filters.partition(user_id)}
        return {"items": [_output(user_id, t, own.get(t)) for t in DEFAULT_FILTERS]}

    @router.get("/{object_type}", response_model=SyncFilterOut, summary="The user's ACT sync filter for one type")
    def get_filter(user_id: ItemId, object_type: ObjectType, ctx: Ctx, _: Reader, response: Response) -> dict[str, Any]:
        table = EntityType(object_type)
        stored = _find(ctx, user_id, table)
        if stored is not None:
            response.headers["ETag"] = stored.etag or ""
        return _output(user_id, table, stored)

    @router.put(
        "/{object_type}",
        response_model=SyncFilterOut,
        summary="Set the user's ACT sync filter for one type",
        responses={404: {"description": "No such user"}, 412: {"description": "If-Match does not match"}},
    )
    def set_filter(
        user_id: ItemId,
        object_type: ObjectType,
        body: SyncFilterIn,
        ctx: Ctx,
        _: Admin,
        response: Response,
        if_match: IfMatch = None,
    ) -> dict[str, Any]:
        table, rule = EntityType(object_type), FilterRule(body.rule)
        stored = _find(ctx, user_id, table)
        if stored is None:
            if if_match is not None:
                raise ConcurrencyConflict(f"user {user_id} has no {option_name(table)} filter of their own")
            saved = ctx.store.sync_filters.insert(
                SyncFilter(user_id=user_id, object_type=table, rule=rule, name=body.name)
            )
        else:
            check_if_match(stored, if_match)
            stored.rule, stored.name = rule, body.name
            saved = ctx.store.sync_filters.update(stored)
        _recheck(ctx, user_id, table)
        response.headers["ETag"] = saved.etag or ""
        return _output(user_id, table, saved)

    @router.delete(
        "/{object_type}",
        status_code=status.HTTP_204_NO_CONTENT,
        summary="Return the user's ACT sync filter for one type to the default",
        responses={404: {"description": "No such user"}, 412: {"description": "If-Match does not match"}},
    )
    def reset_filter(
        user_id: ItemId, object_type: ObjectType, ctx: Ctx, _: Admin, if_match: IfMatch = None
    ) -> Response:
        table = EntityType(object_type)
        stored = _find(ctx, user_id, table)
        if stored is not None:
            check_if_match(stored, if_match)
            ctx.store.sync_filters.delete(stored)
            _recheck(ctx, user_id, table)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
