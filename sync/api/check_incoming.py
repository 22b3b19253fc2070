"""CheckIncomingEmail: what the incoming pipeline would do with a message for a mailbox, nothing created.

An administrator pastes a message (the raw MIME) to learn why it was or was not tracked: the reason code
(R-ACC-9, Dynamics' numbers where they exist), the email it correlates with, the accepting user or queue.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sync.api.auth import Reader
from sync.api.context import Ctx
from sync.api.readable import RecordRef
from sync.api.resources import ItemId
from sync.errors import ValidationFailed
from sync.incoming.processor import IncomingProcessor
from sync.model import EmailServerProfile
from sync.model.options import ServerType

MAX_MIME_CHARS = 20_000_000  # a JSON body this size is already unusual; larger messages are checked offline


class CheckIncomingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mime: str | None = Field(default=None, max_length=MAX_MIME_CHARS, description="The raw message as text.")
    mime_base64: str | None = Field(
        default=None, max_length=MAX_MIME_CHARS, description="The raw message, base64 (for 8-bit content)."
    )
    received_on: datetime | None = Field(default=None, description="When the server received it (start-date rule).")

    @model_validator(mode="after")
    def _one_message(self) -> CheckIncomingRequest:
        if (self.mime is None) == (self.mime_base64 is None):
            raise ValueError("send exactly one of mime and mime_base64")
        return self

    def raw(self) -> bytes:
        if self.mime is not None:
            return self.mime.encode("utf-8", "surrogateescape")
        try:
            return base64.b64decode(self.mime_base64 or "", validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("is not valid base64", field="mime_base64") from None


class CheckIncomingResult(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: str
    """The mailbox the message was checked for."""
    reason: str
    """The decision's reason, e.g. SenderMatch, NoCorrelationMatch, Duplicate."""
    reason_code: int
    """The reason's code (Dynamics' CheckIncomingEmail numbers where they exist)."""
    would_be_tracked: bool
    """Whether the message would become an email activity."""
    details: str
    """More about the decision."""
    message_key: str
    """The key the message is known by (its Message-ID, or a hash of it)."""
    email_id: str | None
    """The email already tracked for this message, if any."""
    correlated_email_id: str | None
    """The earlier email it would be correlated with."""
    accepting_entity: RecordRef | None
    """The user or queue whose filtering method would accept it."""


def build_router() -> APIRouter:
    router = APIRouter(tags=["mailbox actions"])

    @router.post(
        "/mailboxes/{mailbox_id}/check-incoming",
        response_model=CheckIncomingResult,
        summary="CheckIncomingEmail: the decision and reason for a message, without creating anything",
    )
    def check_incoming(mailbox_id: ItemId, body: CheckIncomingRequest, ctx: Ctx, _: Reader) -> CheckIncomingResult:
        raw = body.raw()
        store = ctx.store
        mailbox = store.get_mailbox(mailbox_id)
        # The profile only contributes its start date here; a mailbox without one is checked without it.
        profile = store.find_profile(mailbox.email_server_profile_id or "") or EmailServerProfile(
            name="(no profile)", server_type=ServerType.IMAP_SMTP
        )
        processor = IncomingProcessor(store, ctx.settings, store.get_organization(), mailbox, profile)
        result = processor.check(raw, body.received_on)
        return CheckIncomingResult(
            mailbox_id=mailbox_id,
            reason=result.reason.label,
            reason_code=int(result.reason),
            would_be_tracked=result.reason.accepted,
            details=result.details,
            message_key=result.message_key,
            email_id=result.email_id,
            correlated_email_id=result.correlated_email_id,
            accepting_entity=RecordRef.of(result.accepting) if result.accepting else None,
        )

    return router
