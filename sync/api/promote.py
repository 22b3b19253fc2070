"""DeliverIncomingEmail, DeliverPromoteEmail and CheckPromoteEmail (spec §1.5) for one handed-in message.

- ``POST /api/mailboxes/{id}/deliver-incoming`` (``Sync.Admin``): the mailbox's incoming pipeline, done;
- ``POST /api/emails/promote`` (``Sync.Admin``): the user tracks the message now, with a regarding record (the
  App for Outlook's "Track"); 201 when a new email was created, 200 with the email that tracks it already;
- ``POST /api/emails/check-promote`` (``Sync.Reader``): whether a Message-ID is still to be tracked.

The rules live in :mod:`sync.incoming.promote`; unknown mailbox or user is 404, an unknown regarding record 422.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sync.api.auth import Admin, Reader
from sync.api.check_incoming import CheckIncomingRequest
from sync.api.context import Ctx
from sync.api.emails import EmailRecordRef
from sync.api.resources import ItemId
from sync.incoming.processor import ItemOutcome
from sync.incoming.promote import SingleMessages


class PromoteRequest(CheckIncomingRequest):
    user_id: str = Field(min_length=1, max_length=36, description="The user who tracks the message.")
    regarding: EmailRecordRef | None = Field(default=None, description="The record the email is about.")


class CheckPromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str = Field(min_length=1, max_length=998, description="The message's Message-ID header.")


class DeliveryResult(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    tracked: bool
    """Whether an email activity tracks the message now (created now or before)."""
    created: bool
    """Whether this request created it."""
    reason: str
    """The decision's reason: Promoted, SenderMatch, Duplicate, AlreadyProcessed..."""
    reason_code: int
    """The reason's code (Dynamics' numbers where they exist)."""
    email_id: str | None
    """The email that tracks the message."""
    message_key: str | None
    """The key the message is known by (its Message-ID, or a hash of it): the same for every mailbox."""

    @classmethod
    def of(cls, outcome: ItemOutcome) -> DeliveryResult:
        return cls(
            tracked=outcome.email_id is not None,
            created=outcome.tracked,
            reason=outcome.reason.label,
            reason_code=int(outcome.reason),
            email_id=outcome.email_id,
            message_key=outcome.message_key,
        )


class CheckPromoteResult(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    should_promote: bool
    """Whether the message is still to be tracked."""
    reason: str
    """AlreadyProcessed when an email tracks it, Promoted when it would be tracked."""
    email_id: str | None
    """The email that tracks it already."""
    message_key: str
    """The key the message is known by."""


def build_router() -> APIRouter:
    router = APIRouter(tags=["emails"])

    @router.post(
        "/mailboxes/{mailbox_id}/deliver-incoming",
        response_model=DeliveryResult,
        summary="DeliverIncomingEmail: process one message as the mailbox's cycle would",
    )
    def deliver_incoming(mailbox_id: ItemId, body: CheckIncomingRequest, ctx: Ctx, _: Admin) -> DeliveryResult:
        outcome = SingleMessages(ctx.store, ctx.settings).deliver_incoming(mailbox_id, body.raw(), body.received_on)
        return DeliveryResult.of(outcome)

    @router.post(
        "/emails/promote",
        response_model=DeliveryResult,
        status_code=status.HTTP_201_CREATED,
        summary="DeliverPromoteEmail: the user tracks this message now (the App for Outlook's Track)",
    )
    def deliver_promote(body: PromoteRequest, ctx: Ctx, _: Admin) -> DeliveryResult | JSONResponse:
        regarding = body.regarding.ref() if body.regarding else None
        outcome = SingleMessages(ctx.store, ctx.settings).deliver_promote(
            body.user_id, body.raw(), regarding, body.received_on
        )
        result = DeliveryResult.of(outcome)
        if outcome.tracked:
            return result
        return JSONResponse(status_code=status.HTTP_200_OK, content=result.model_dump(mode="json"))

    @router.post(
        "/emails/check-promote",
        response_model=CheckPromoteResult,
        summary="CheckPromoteEmail: whether a message is still to be tracked",
    )
    def check_promote(body: CheckPromoteRequest, ctx: Ctx, _: Reader) -> CheckPromoteResult:
        found = SingleMessages(ctx.store, ctx.settings).check_promote(body.message_id)
        return CheckPromoteResult(
            should_promote=found.should_promote,
            reason=found.reason.label,
            email_id=found.email_id,
            message_key=found.message_key,
        )

    return router
