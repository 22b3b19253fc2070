"""Outgoing email: create an email activity, SendEmail, GetTrackingTokenEmail, and follow its delivery.

Routes (mounted by the app with its authentication):

- ``POST /api/emails`` — a Draft from a user or a queue to records or raw addresses, with HTML and/or text,
  attachments (base64, stored in Blob) and a regarding record; 201 with the email. With ``"send": true`` it
  is created and sent in one call (as Microsoft Graph's sendMail): stored Pending Send and queued, the same
  as creating it and then ``POST /api/emails/{id}/send``, at half the storage requests;
- ``POST /api/emails/{id}/send`` — SendEmail: ``issue_send`` true queues it (Pending Send), false marks it
  Sent without sending (R-OUT-1/2); 409 when it is not a Draft or Failed outgoing email;
- ``POST /api/emails/tracking-token`` — a new tracking token and the subject with it (R-COR-13/14);
- ``GET /api/emails/{id}/delivery`` — status, attempts and the result for each recipient;
- ``PUT /api/emails/{id}/regarding`` — set or change (or clear) the record a tracked email is about (R-FLT-6);
- ``POST /api/emails/{id}/resolve`` — an unresolved sender or recipient is this record; other emails with the
  address unresolved follow when the organization's ``resolve_similar_unresolved_email_address`` is on (R-RES-7).

Corrections name the user who makes them (``user_id``, recorded as ``modified_by``, R-REC-12).

Errors: 422 names each field (``to.1``, ``attachments.0``...) with the reason, never echoing the input;
403 when send-as is refused (R-OUT-4); 404 for an unknown email or record id in the path; 409 for a
state conflict. The shapes match ``sync/api/errors.py``. The store comes from :func:`get_store` (the
app's context when there is one); an app or a test overrides it with ``app.dependency_overrides``.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sync.api import activities
from sync.api.readable import OptionSet, RecordRef, TableName
from sync.crm.corrections import EmailCorrections
from sync.errors import ConcurrencyConflict, NotFound, ValidationFailed
from sync.model.email import MAX_TEXT_BODY_CHARS, Email, RecipientStatus
from sync.model.fields import EntityRef, Str36
from sync.model.options import EMAIL_ENABLED_TYPES, EmailStatus, EntityType, ParticipationType, Priority
from sync.outgoing.counter_blocks import CounterBlocks
from sync.outgoing.messages import OutboxQueue, WorkSigner
from sync.outgoing.submit import (
    AttachmentInput,
    DraftSpec,
    EmailStateConflict,
    OutgoingEmails,
    PartyInput,
    SendAsDenied,
)
from sync.settings import Settings, load_settings
from sync.store.names import Queue
from sync.store.read_cache import ReadCache
from sync.store.store import Store

MAX_HTML_BODY_CHARS = 2_000_000  # larger bodies go to Blob storage (N-16 allows far more; requests stay sane)
MAX_ATTACHMENTS = 50

_PARTICIPATION = {
    ParticipationType.SENDER: "from",
    ParticipationType.OWNER: "sender",
    ParticipationType.TO_RECIPIENT: "to",
    ParticipationType.CC_RECIPIENT: "cc",
    ParticipationType.BCC_RECIPIENT: "bcc",
}

router = APIRouter(prefix="/api/emails", tags=["emails"])


# --- dependencies ---------------------------------------------------------------------------------
@cache
def _settings_from_environment() -> Settings:
    return load_settings()


@cache
def _store_from_environment() -> Store:
    return Store.from_settings(_settings_from_environment())


def get_settings(request: Request) -> Settings:
    """The app's settings (its context when it has one, else the environment's)."""
    context = getattr(request.app.state, "context", None)
    return context.settings if context is not None else _settings_from_environment()


def get_store(request: Request) -> Store:
    """The app's store (its context when it has one, else one built from the environment)."""
    context = getattr(request.app.state, "context", None)
    return context.store if context is not None else _store_from_environment()


def get_read_cache(request: Request) -> ReadCache | None:
    """The app's cache of organization and mailbox rows (none without a context: every call reads them)."""
    context = getattr(request.app.state, "context", None)
    return context.read_cache if context is not None else None


def get_token_counters(request: Request) -> CounterBlocks | None:
    """The app's reserved tracking-token counter values (none without a context: one write per token)."""
    context = getattr(request.app.state, "context", None)
    return context.token_counters if context is not None else None


def get_outgoing(
    store: Annotated[Store, Depends(get_store)],
    settings: Annotated[Settings, Depends(get_settings)],
    cache: Annotated[ReadCache | None, Depends(get_read_cache)],
    counters: Annotated[CounterBlocks | None, Depends(get_token_counters)],
) -> OutgoingEmails:
    queue = OutboxQueue(store.account.queue(Queue.OUTGOING_MAIL))
    return OutgoingEmails(store, queue, WorkSigner(settings.aes_key()), cache=cache, counters=counters)


Outgoing = Annotated[OutgoingEmails, Depends(get_outgoing)]
StoreDep = Annotated[Store, Depends(get_store)]
EmailId = Annotated[str, Path(description="The email's id.")]


# --- request and response models ------------------------------------------------------------------
def _email_enabled(table: EntityType) -> EntityType:
    if table not in EMAIL_ENABLED_TYPES:
        raise ValueError("a user, queue, contact, account or lead: systemuser, queue, contact, account or lead")
    return table


EmailEnabledTable = Annotated[TableName, AfterValidator(_email_enabled)]


class EmailRecordRef(RecordRef):
    """A user, queue, contact, account or lead: the records an email is from, to or about."""

    type: EmailEnabledTable = Field(description="systemuser, queue, contact, account or lead (or its type code).")


class Recipient(BaseModel):
    """A record (``type`` and ``id``) or a raw ``address`` (with an optional display ``name``)."""

    model_config = ConfigDict(extra="forbid")

    type: EmailEnabledTable | None = Field(default=None, description="The record's table, with id.")
    id: str | None = Field(default=None, min_length=1, max_length=36, description="The record's id, with type.")
    address: str | None = Field(
        default=None, min_length=3, max_length=320, description="A raw address, instead of a record."
    )
    name: str | None = Field(default=None, max_length=200, description="The display name shown with a raw address.")

    @model_validator(mode="after")
    def _record_or_address(self) -> Recipient:
        record = self.type is not None and self.id is not None
        if record == (self.address is not None) or (self.type is None) != (self.id is None):
            raise ValueError("give either type and id of a record, or an address")
        return self

    def party(self) -> PartyInput:
        if self.type is not None and self.id is not None:
            return PartyInput(ref=EntityRef(type=self.type, id=self.id))
        return PartyInput(address=self.address, name=self.name)


class AttachmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    file_name: str = Field(min_length=1, max_length=256)
    """The file name the recipients see."""
    content_type: str = Field(default="application/octet-stream", pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=256)
    """The MIME type, e.g. application/pdf."""
    content_base64: str
    """The file's bytes, base64."""
    content_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9$+._@-]{1,200}$")
    """The Content-ID an inline image is referred to by (cid:...) in the HTML body."""
    inline: bool = False
    """Shown in the body (an inline image) rather than as an attachment."""


class CreateEmail(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)

    from_: EmailRecordRef = Field(alias="from", description="The user or queue the email is sent from.")
    to: list[Recipient] = Field(default_factory=list)
    """To recipients: records or raw addresses."""
    cc: list[Recipient] = Field(default_factory=list)
    """Cc recipients: records or raw addresses."""
    bcc: list[Recipient] = Field(default_factory=list)
    """Bcc recipients: records or raw addresses."""
    subject: str = Field(default="", max_length=800)
    """The subject; the tracking token is appended when the email is sent."""
    html_body: str | None = Field(default=None, max_length=MAX_HTML_BODY_CHARS)
    """The body as HTML."""
    text_body: str | None = Field(default=None, max_length=MAX_TEXT_BODY_CHARS)
    """The body as plain text (sent as the text alternative of the HTML, or alone)."""
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    """Files sent with the email."""
    regarding: EmailRecordRef | None = Field(default=None, description="The record the email is about.")
    owner_user_id: str | None = Field(default=None, max_length=36, description="The acting user (send-as).")
    send_later: AwareDatetime | None = Field(default=None, description="Not sent before this time (R-OUT-13).")
    in_reply_to_email_id: str | None = Field(default=None, max_length=36)
    """The email this one answers: its Message-ID goes into In-Reply-To and References."""
    priority: Annotated[int, OptionSet(Priority)] = Field(
        default=Priority.NORMAL, description="The email's importance."
    )
    send: bool = Field(
        default=False,
        description="True: SendEmail it in the same call (stored Pending Send and queued, not as a Draft).",
    )


class SendEmailRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    issue_send: bool = Field(default=True, description="False: mark it Sent without sending (R-OUT-2).")
    tracking_token: str | None = Field(default=None, max_length=50, description="Use this token instead of a new one.")


class TrackingTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(default="", max_length=800, description="The subject the token is appended to.")
    user_id: str | None = Field(default=None, max_length=36, description="The user whose number the token carries.")


class RegardingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regarding: EmailRecordRef | None = Field(description="The record the email is about; null: about no record.")
    user_id: Str36 | None = Field(default=None, description="The user making the change (recorded as modified_by).")


class PartyResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=320, description="The unresolved sender's or recipient's address.")
    record: EmailRecordRef = Field(description="The record the address stands for.")
    user_id: Str36 | None = Field(default=None, description="The user making the change (recorded as modified_by).")


class ResolutionResult(BaseModel):
    email: dict[str, Any] = Field(description="The email after the change, as GET /api/emails/{id} shows it.")
    also_resolved_email_ids: list[str] = Field(
        description="Other emails whose parties with the address got the record (resolve_similar_unresolved...)."
    )


class TrackingTokenResponse(BaseModel):
    tracking_token: str = Field(description="The new token, e.g. CRM:0001001.")
    subject: str = Field(description="The subject with the token, within MaximumSubjectLengthOnMailServer.")


class PartyView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    participation: Literal["from", "sender", "to", "cc", "bcc"]
    """The party's role: from, sender (the acting user), to, cc or bcc."""
    type: TableName | None
    """The record's table when the address resolved to a record."""
    id: str | None
    """The record's id when the address resolved to a record."""
    address: str | None
    """The address used."""
    name: str | None
    """The display name."""
    resolved: bool
    """Whether the address resolved to a record."""


class RecipientResultView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    address: str
    """The envelope recipient."""
    status: Annotated[int, OptionSet(RecipientStatus)]
    """How the mail server answered for this recipient."""
    code: int | None
    """The SMTP reply code, when there was one."""
    reply: str | None
    """The mail server's reply text."""
    attempt: int
    """The delivery attempt that gave this answer."""
    on: datetime | None
    """When the answer came."""


class AttachmentView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    file_name: str
    """The file name."""
    content_type: str
    """The MIME type."""
    size: int
    """Bytes."""
    inline: bool
    """Shown in the body rather than as an attachment."""


class EmailView(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    id: str
    """The email's id."""
    status: Annotated[int, OptionSet(EmailStatus)]
    """Where the email is: draft, pending_send, sending, sent, failed..."""
    subject: str
    """The subject (with the tracking token once sent)."""
    parties: list[PartyView]
    """Sender and recipients."""
    regarding: RecordRef | None
    """The record the email is about."""
    owner_user_id: str | None
    """The user who owns the email (the acting user for send-as)."""
    tracking_token: str | None
    """The tracking token in the subject, once sent."""
    message_id: str | None
    """The Message-ID header, once sent."""
    in_reply_to: str | None
    """The Message-ID of the email this one answers."""
    send_later: datetime | None
    """Not sent before this time."""
    postponed_until: datetime | None
    """The next delivery attempt is not before this time (back-off after a failure)."""
    delivery_attempts: int
    """Delivery attempts so far."""
    sent_on: datetime | None
    """When the mail server accepted it."""
    sender_mailbox_id: str | None
    """The mailbox that sends it."""
    last_send_error: str | None
    """Why the last attempt failed."""
    recipients: list[RecipientResultView]
    """The mail server's last answer for each envelope recipient."""
    attachments: list[AttachmentView]
    """Files sent with the email."""

    @classmethod
    def of(cls, email: Email) -> EmailView:
        regarding = email.regarding
        return cls(
            id=email.id,
            status=email.status,
            subject=email.subject,
            parties=[
                PartyView(
                    participation=_PARTICIPATION[p.participation],
                    type=p.party.type if p.party else None,
                    id=p.party.id if p.party else None,
                    address=p.address_used,
                    name=p.display_name or p.unresolved_party_name,
                    resolved=p.is_resolved,
                )
                for p in email.parties
                if p.participation in _PARTICIPATION
            ],
            regarding=RecordRef.of(regarding) if regarding is not None else None,
            owner_user_id=email.owner.id if email.owner else None,
            tracking_token=email.tracking_token,
            message_id=email.message_id,
            in_reply_to=email.in_reply_to,
            send_later=email.delayed_email_send_time,
            postponed_until=email.postpone_email_processing_until,
            delivery_attempts=email.delivery_attempts,
            sent_on=email.sent_on,
            sender_mailbox_id=email.sender_mailbox_id,
            last_send_error=email.last_send_error,
            recipients=[
                RecipientResultView(
                    address=r.address,
                    status=r.status,
                    code=r.code,
                    reply=r.reply,
                    attempt=r.attempt,
                    on=r.on,
                )
                for r in email.recipient_results
            ],
            attachments=[
                AttachmentView(file_name=a.file_name, content_type=a.mime_type, size=a.size, inline=a.is_inline)
                for a in email.attachments
            ],
        )


ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Send-as refused (R-OUT-4)"},
    404: {"description": "No such email"},
    409: {"description": "The email is not in a state that allows this"},
    422: {"description": "Invalid input; each field and reason is named"},
}


# --- routes ---------------------------------------------------------------------------------------
@router.post("", status_code=status.HTTP_201_CREATED, response_model=EmailView, responses=ERRORS)
def create_email(
    body: CreateEmail, outgoing: Outgoing, settings: Annotated[Settings, Depends(get_settings)]
) -> EmailView | JSONResponse:
    """Create an outgoing email activity (Draft), or create and send it in one call (``send``: Pending Send)."""
    recipients = len(body.to) + len(body.cc) + len(body.bcc)
    if recipients > settings.api_max_recipients:
        return _error(
            ValidationFailed(
                f"{recipients} recipients in To, Cc and Bcc; at most {settings.api_max_recipients} "
                "(SYNC_API_MAX_RECIPIENTS)",
                field="body.to",
            )
        )
    spec = DraftSpec(
        sender=body.from_.ref(),
        subject=body.subject,
        to=[r.party() for r in body.to],
        cc=[r.party() for r in body.cc],
        bcc=[r.party() for r in body.bcc],
        html_body=body.html_body,
        text_body=body.text_body,
        attachments=[
            AttachmentInput(a.file_name, a.content_base64, a.content_type, a.content_id, a.inline)
            for a in body.attachments
        ],
        regarding=body.regarding.ref() if body.regarding else None,
        owner_user_id=body.owner_user_id,
        send_later=body.send_later,
        in_reply_to_email_id=body.in_reply_to_email_id,
        priority=Priority(body.priority),
    )
    try:
        return EmailView.of(outgoing.create_and_send(spec) if body.send else outgoing.create_draft(spec))
    except (ValidationFailed, SendAsDenied) as exc:
        return _error(exc)


@router.post("/tracking-token", response_model=TrackingTokenResponse, responses=ERRORS)
def get_tracking_token(body: TrackingTokenRequest, outgoing: Outgoing) -> TrackingTokenResponse | JSONResponse:
    """GetTrackingTokenEmail: a new token, and the subject with it appended."""
    try:
        token, subject = outgoing.tracking_token(body.subject, body.user_id)
    except ValidationFailed as exc:
        return _error(exc)
    return TrackingTokenResponse(tracking_token=token, subject=subject)


@router.post("/{email_id}/send", response_model=EmailView, responses=ERRORS)
def send_email(email_id: EmailId, body: SendEmailRequest, outgoing: Outgoing) -> EmailView | JSONResponse:
    """SendEmail: queue the email (Pending Send), or mark it Sent without sending."""
    try:
        return EmailView.of(outgoing.send(email_id, issue_send=body.issue_send, tracking_token=body.tracking_token))
    except (ValidationFailed, SendAsDenied, EmailStateConflict, NotFound, ConcurrencyConflict) as exc:
        return _error(exc)


@router.get("/{email_id}/delivery", response_model=EmailView, responses=ERRORS)
def get_delivery(email_id: EmailId, store: StoreDep) -> EmailView | JSONResponse:
    """Where the email is: status, attempts, back-off, and each recipient's last answer."""
    email = store.emails.find(email_id, "email")
    if email is None:
        return _error(NotFound(f"email {email_id} not found"))
    return EmailView.of(email)


def _acting_user(store: Store, user_id: str | None) -> EntityRef | None:
    if user_id is None:
        return None
    user = EntityRef(type=EntityType.SYSTEM_USER, id=user_id)
    if store.find_record(user.type, user.id) is None:
        raise ValidationFailed("no user has this id", field="user_id")
    return user


@router.put("/{email_id}/regarding", response_model=dict[str, Any], responses=ERRORS)
def set_regarding(email_id: EmailId, body: RegardingChange, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Set, change or clear the record a tracked email is about; the change stays (see docs/corrections.md)."""
    try:
        by = _acting_user(store, body.user_id)
        email = EmailCorrections(store).set_regarding(email_id, body.regarding.ref() if body.regarding else None, by)
    except (ValidationFailed, NotFound) as exc:
        return _error(exc)
    return activities.SHAPE.output(email)


@router.post("/{email_id}/resolve", response_model=ResolutionResult, responses=ERRORS)
def resolve_party(email_id: EmailId, body: PartyResolution, store: StoreDep) -> ResolutionResult | JSONResponse:
    """An unresolved sender or recipient is this record (and on similar emails, when the organization says so)."""
    try:
        by = _acting_user(store, body.user_id)
        done = EmailCorrections(store).resolve(email_id, body.address, body.record.ref(), by)
    except (ValidationFailed, NotFound) as exc:
        return _error(exc)
    return ResolutionResult(email=activities.SHAPE.output(done.email), also_resolved_email_ids=done.also_resolved)


def _error(exc: Exception) -> JSONResponse:
    """The same shapes as the app's error handlers (``sync/api/errors.py``)."""
    if isinstance(exc, ValidationFailed):
        field = exc.field or "body"
        return JSONResponse(
            status_code=422,
            content={"detail": f"invalid input: {field}: {exc}", "errors": [{"field": field, "reason": str(exc)}]},
        )
    if isinstance(exc, SendAsDenied):
        return JSONResponse(status_code=status.HTTP_403_FORBIDDEN, content={"detail": str(exc)})
    if isinstance(exc, NotFound):
        return JSONResponse(status_code=status.HTTP_404_NOT_FOUND, content={"detail": str(exc)})
    return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": str(exc)})
