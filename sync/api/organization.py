"""The organization's email settings (spec §1.9, §1.11): one row, read by everyone, changed by administrators.

Switching off the approval requirement (R-APP-3) needs the approver's privilege too: otherwise an administrator
who may not approve could let every address through by removing the requirement.
"""

from typing import Any

from fastapi import APIRouter, HTTPException, Response, status

from sync.api.auth import APPROVER_ROLE, Admin, Reader
from sync.api.context import Ctx
from sync.api.resources import IfMatch, Shape, check_if_match, with_signature
from sync.errors import ValidationFailed
from sync.model import OrganizationSettings
from sync.model.organization import ORGANIZATION_ID

APPROVAL_SWITCHES = ("require_approval_for_user_email", "require_approval_for_queue_email")

SHAPE = Shape(
    OrganizationSettings,
    # history and the organization id (R-TE-7) are kept by the service
    read_only=frozenset({"tracking_prefix_history", "next_tracking_number", "organization_id"}),
)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/organization", tags=["organization"])
    out = SHAPE.output_model()

    @router.get("", response_model=out, summary="The organization's email settings")
    def get_settings(ctx: Ctx, _: Reader, response: Response) -> dict[str, Any]:
        org = ctx.store.get_organization()
        response.headers["ETag"] = org.etag or ""
        return SHAPE.output(org)

    def update_settings(
        body: Any, ctx: Ctx, principal: Admin, response: Response, if_match: IfMatch = None
    ) -> dict[str, Any]:
        stored = ctx.store.get_organization()
        check_if_match(stored, if_match)
        changes = SHAPE.changes(body)
        removed = [n for n in APPROVAL_SWITCHES if getattr(stored, n) and changes.get(n, True) is False]
        if removed and not principal.is_approver:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"switching off {' and '.join(removed)} needs the {APPROVER_ROLE} app role too (R-APP-3)",
            )
        default_profile = changes.get("default_email_server_profile_id")
        if default_profile and ctx.store.find_profile(default_profile) is None:
            raise ValidationFailed("no email server profile has this id", field="default_email_server_profile_id")
        prefix = changes.pop("tracking_prefix", None)
        changed = OrganizationSettings.model_validate({**stored.model_dump(), **changes, "id": ORGANIZATION_ID})
        if prefix is not None:
            changed.change_tracking_prefix(prefix)  # earlier prefixes keep correlating (C-9)
        changed.with_etag(stored.etag)
        repo = ctx.store.organization
        saved = repo.update(changed) if stored.etag else repo.insert(changed)  # defaults until first saved
        ctx.read_cache.put(("organization", ""), saved)  # this instance's email routes see it at once
        response.headers["ETag"] = saved.etag or ""
        return SHAPE.output(saved)

    router.add_api_route(
        "",
        with_signature(update_settings, body=SHAPE.update_model()),
        methods=["PATCH"],
        response_model=out,
        summary="Change the organization's email settings (only the fields sent)",
    )
    return router
