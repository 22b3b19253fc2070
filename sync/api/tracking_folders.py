"""A mailbox's folder-level tracking rules (spec §1.4, §2.12; RetrieveMailboxTrackingFolders).

At most ``max_folder_based_tracking_mappings`` (25, N-17) per mailbox; only when the organization allows
folder-level tracking; only for mailboxes on an Exchange profile (R-FLT-1); never for queue or forward
mailboxes (R-Q-3). Whether the folder is under the Inbox is not checked here (R-FLT-12): the next cycle
finds out, and a rule whose folder is not (or no longer) under the Inbox is switched off with
``folder_onboarding_status`` ``not_under_inbox`` (2).
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel

from sync.api.auth import Admin, Reader
from sync.api.context import ApiContext, Ctx
from sync.api.resources import (
    Continuation,
    IfMatch,
    ItemId,
    PageSize,
    Shape,
    check_if_match,
    query_page,
    with_signature,
)
from sync.errors import ValidationFailed
from sync.model import MailboxTrackingFolder

SHAPE = Shape(
    MailboxTrackingFolder,
    read_only=frozenset({"folder_onboarding_status", "mailbox_id"}),  # the mailbox comes from the path
    create_only=frozenset({"exchange_folder_id"}),
)
FolderId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="The tracking folder's id.")
]


def _check_allowed(ctx: ApiContext, mailbox_id: str) -> int:
    """The organization's cap, after checking the mailbox may have rules at all."""
    mailbox = ctx.store.get_mailbox(mailbox_id)
    org = ctx.store.get_organization()
    if not org.is_folder_based_tracking_enabled:
        raise ValidationFailed("folder-level tracking is switched off for the organization", field="mailbox_id")
    if mailbox.is_queue_mailbox or mailbox.is_forward_mailbox:
        raise ValidationFailed("only users' mailboxes track folders (R-Q-3)", field="mailbox_id")
    profile = ctx.store.find_profile(mailbox.email_server_profile_id or "")
    if profile is None or not profile.server_type.is_exchange:
        raise ValidationFailed("folder-level tracking needs an Exchange profile (R-FLT-1)", field="mailbox_id")
    return org.max_folder_based_tracking_mappings


def build_router() -> APIRouter:
    router = APIRouter(prefix="/mailboxes/{mailbox_id}/tracking-folders", tags=["tracking folders"])
    out = SHAPE.output_model()

    @router.get(
        "", response_model=SHAPE.page_model(), summary="The mailbox's tracking folders (RetrieveMailboxTrackingFolders)"
    )
    def list_folders(
        mailbox_id: ItemId, ctx: Ctx, _: Reader, page_size: PageSize = 100, continuation: Continuation = None
    ) -> dict[str, Any]:
        ctx.store.get_mailbox(mailbox_id)
        items, token = query_page(
            ctx.store.tracking_folders, "PartitionKey eq @pk", {"pk": mailbox_id}, page_size, continuation
        )
        return {"items": [SHAPE.output(f) for f in items], "continuation": token}

    @router.get("/{folder_id}", response_model=out, summary="One tracking folder")
    def get_folder(mailbox_id: ItemId, folder_id: FolderId, ctx: Ctx, _: Reader, response: Response) -> dict[str, Any]:
        folder = ctx.store.tracking_folders.get(mailbox_id, folder_id)
        response.headers["ETag"] = folder.etag or ""
        return SHAPE.output(folder)

    def create_folder(mailbox_id: ItemId, body: BaseModel, ctx: Ctx, _: Admin) -> dict[str, Any]:
        cap = _check_allowed(ctx, mailbox_id)
        existing = list(ctx.store.tracking_folders.partition(mailbox_id))
        if len(existing) >= cap:
            raise ValidationFailed(f"a mailbox tracks at most {cap} folders", field="exchange_folder_id")
        if any(f.exchange_folder_id == getattr(body, "exchange_folder_id", None) for f in existing):
            raise ValidationFailed("the mailbox tracks this folder already", field="exchange_folder_id")
        folder = SHAPE.build(body, ctx.box, mailbox_id=mailbox_id)
        return SHAPE.output(ctx.store.tracking_folders.insert(folder))

    router.add_api_route(
        "",
        with_signature(create_folder, body=SHAPE.create_model()),
        methods=["POST"],
        response_model=out,
        status_code=status.HTTP_201_CREATED,
        summary="Track a folder of the mailbox",
    )

    def update_folder(
        mailbox_id: ItemId, folder_id: FolderId, body: BaseModel, ctx: Ctx, _: Admin, if_match: IfMatch = None
    ) -> dict[str, Any]:
        stored = ctx.store.tracking_folders.get(mailbox_id, folder_id)
        check_if_match(stored, if_match)
        return SHAPE.output(ctx.store.tracking_folders.update(SHAPE.merged(stored, body, ctx.box)))

    router.add_api_route(
        "/{folder_id}",
        with_signature(update_folder, body=SHAPE.update_model()),
        methods=["PATCH"],
        response_model=out,
        summary="Change a tracking folder (only the fields sent)",
    )

    @router.delete("/{folder_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Stop tracking a folder")
    def delete_folder(mailbox_id: ItemId, folder_id: FolderId, ctx: Ctx, _: Admin) -> Response:
        ctx.store.tracking_folders.delete(ctx.store.tracking_folders.get(mailbox_id, folder_id))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
