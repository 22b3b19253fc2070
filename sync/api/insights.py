"""What the console shows beyond the raw records: why emails were not tracked, the dashboard, a profile's health.

- ``GET /insights/not-tracked``: search every mailbox by sender, Message-ID or subject (an index, no scan);
- ``GET /insights/mailboxes/{id}/not-tracked``: a mailbox's emails not tracked, each with its explanation;
- ``GET /insights/dashboard``: the last 24 hours per hour (emails, reasons, send outcomes, failing mailboxes);
- ``GET /insights/profiles/{id}``: a profile's mailboxes and the share failing in the last hour (R-ERR-7).

Readers may call them all; they change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from sync.api.auth import Reader
from sync.api.context import Ctx
from sync.api.readable import OptionSet
from sync.api.resources import Continuation, ItemId, PageSize, query_page
from sync.incoming.reasons import Reason
from sync.insights.dashboard import read_dashboard
from sync.insights.explain import NOT_SEEN, Explanation
from sync.insights.facts import Explainer
from sync.insights.profiles import read_overview
from sync.insights.search import MAX_HITS, search
from sync.model import ItemFailure
from sync.operations.states import WorkloadState
from sync.store.not_tracked_index import SearchKey


class ExplanationOut(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    reason: str
    """The reason's name, e.g. NoCorrelationMatch."""
    code: int
    """The reason's code (Dynamics' CheckIncomingEmail numbers where they exist)."""
    why: str
    """What happened, in words."""
    would_track: list[str]
    """What would have tracked it, or tracks the next such email."""
    needs_action: bool
    """False when nothing is wrong (a duplicate, a loop, the service's own message)."""


class NotTrackedItem(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: str
    """The mailbox that saw the email."""
    mailbox_name: str | None
    """Its name (none when the mailbox was deleted since)."""
    message_key: str
    """The message's key."""
    message_id: str | None
    """Its Message-ID."""
    subject: str
    """Its subject."""
    sender: str | None
    """The sender's address."""
    received_on: datetime | None
    """When the mail server received it."""
    recorded_on: datetime
    """When the reason was recorded."""
    details: str | None
    """More about the reason."""
    explanation: ExplanationOut
    """Why, and what would track it."""


class NotTrackedSearch(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[NotTrackedItem]
    """The emails found, newest first."""
    note: str | None
    """When nothing is found: why an email may have no reason recorded at all."""


class NotTrackedPage(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    items: list[NotTrackedItem]
    """One page of the mailbox's emails not tracked."""
    continuation: str | None
    """Pass it back for the next page; none on the last."""


class HourOut(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    hour: datetime
    """The hour's start (UTC)."""
    tracked: int
    """Emails tracked."""
    not_tracked: int
    """Emails deliberately not tracked."""
    quarantined: int
    """Emails that broke processing."""
    cycles: int
    """Incoming cycles that did something or failed."""
    cycles_failed: int
    """Incoming cycles that failed."""
    sent: int
    """Outgoing emails sent."""
    send_failed: int
    """Outgoing emails that failed."""
    failing_mailboxes: int | None
    """Mailboxes with an error in the last hour, at the hour's last sample (none: not sampled)."""


class ReasonCount(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    reason: str
    """The reason's name, e.g. NoCorrelationMatch."""
    count: int
    """Emails not tracked for it."""


class DashboardOut(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    as_of: datetime
    """When it was read."""
    hours: list[HourOut]
    """The last 24 hours, oldest first; the last is the current hour so far."""
    not_tracked_reasons: list[ReasonCount]
    """Why emails were not tracked over the 24 hours, most frequent first."""
    sent: int
    """Outgoing emails sent over the 24 hours."""
    send_failed: int
    """Outgoing emails that failed over the 24 hours."""
    in_outbox: int
    """Outgoing emails whose outcome the outbox sweep has not confirmed yet (pending, sending, or just sent)."""


class ProfileMailboxOut(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: str
    """The mailbox."""
    name: str
    """Its name."""
    email_address: str | None
    """Its address."""
    incoming: WorkloadState
    """Incoming email's state."""
    outgoing: WorkloadState
    """Outgoing email's state."""
    act: WorkloadState
    """Appointments, contacts and tasks' state."""
    failing_last_hour: bool
    """An error in the last hour that no successful cycle has cleared."""
    last_sync_error: str | None
    """The last error's words, while it stands."""


class ProfileOverviewOut(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    profile_id: str
    """The profile."""
    name: str
    """Its name."""
    mailboxes: int
    """Mailboxes on the profile."""
    failing_last_hour: int
    """Mailboxes that failed in the last hour."""
    failing_share: float
    """Their share, 0 to 1."""
    over_alert_threshold: bool
    """More than half failed (R-ERR-7)."""
    items: list[ProfileMailboxOut]
    """The mailboxes, failing first."""
    test_and_enable: str
    """POST to test every mailbox in the background; GET with ``since`` to follow the progress."""


def explanation_out(found: Explanation) -> ExplanationOut:
    return ExplanationOut(
        reason=found.reason, code=found.code, why=found.why, would_track=found.would_track,
        needs_action=found.needs_action,
    )  # fmt: skip


def item_out(failure: ItemFailure, mailbox_name: str | None, found: Explanation) -> NotTrackedItem:
    return NotTrackedItem(
        mailbox_id=failure.mailbox_id, mailbox_name=mailbox_name, message_key=failure.message_key,
        message_id=failure.message_id, subject=failure.subject, sender=failure.sender,
        received_on=failure.received_on, recorded_on=failure.modified_on, details=failure.details,
        explanation=explanation_out(found),
    )  # fmt: skip


def build_router() -> APIRouter:
    router = APIRouter(prefix="/insights", tags=["insights"])

    @router.get(
        "/not-tracked",
        response_model=NotTrackedSearch,
        summary="Why was this email not tracked? Search every mailbox by sender, Message-ID or subject",
    )
    def search_not_tracked(
        ctx: Ctx,
        _: Reader,
        sender: Annotated[str | None, Query(max_length=320, description="The sender's address (any case).")] = None,
        message_id: Annotated[
            str | None, Query(max_length=1024, description="The Message-ID, with or without <>.")
        ] = None,
        subject: Annotated[
            str | None,
            Query(max_length=800, description="The whole subject; case, spacing and Re:/Fwd: prefixes do not matter."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_HITS, description="At most this many emails.")] = 50,
    ) -> NotTrackedSearch:
        explainer = Explainer(ctx.store, ctx.settings)
        criteria = {SearchKey.SENDER: sender, SearchKey.MESSAGE_ID: message_id, SearchKey.SUBJECT: subject}
        hits = search(explainer, {k: v for k, v in criteria.items() if v}, limit=limit)
        items = [item_out(h.failure, h.mailbox_name, h.explanation) for h in hits]
        return NotTrackedSearch(items=items, note=None if items else NOT_SEEN)

    @router.get(
        "/mailboxes/{mailbox_id}/not-tracked",
        response_model=NotTrackedPage,
        summary="A mailbox's emails not tracked, each with why and what would track it",
    )
    def mailbox_not_tracked(
        mailbox_id: ItemId,
        ctx: Ctx,
        _: Reader,
        reason: Annotated[
            Annotated[int, OptionSet(Reason)] | None,
            Query(description="Only this reason, e.g. NoCorrelationMatch (any case) or its code."),
        ] = None,
        page_size: PageSize = 50,
        continuation: Continuation = None,
    ) -> NotTrackedPage:
        explainer = Explainer(ctx.store, ctx.settings)
        mailbox = ctx.store.get_mailbox(mailbox_id)
        query, params = "PartitionKey eq @pk", {"pk": mailbox_id}
        if reason is not None:
            query, params = query + " and reason eq @reason", {**params, "reason": Reason(reason).label}
        failures, token = query_page(ctx.store.item_failures, query, params, page_size, continuation)
        items = [item_out(f, mailbox.name, explainer.explain(f)) for f in failures]
        return NotTrackedPage(items=items, continuation=token)

    @router.get(
        "/dashboard",
        response_model=DashboardOut,
        summary="The last 24 hours per hour: emails tracked and not, reasons, send outcomes, failing mailboxes",
    )
    def dashboard(ctx: Ctx, _: Reader) -> DashboardOut:
        found = read_dashboard(ctx.store, ctx.clock())
        return DashboardOut(
            as_of=found.as_of,
            hours=[HourOut(**vars(point)) for point in found.hours],
            not_tracked_reasons=[ReasonCount(reason=r, count=c) for r, c in found.reasons],
            sent=found.totals.sent,
            send_failed=found.totals.send_failed,
            in_outbox=found.in_outbox,
        )

    @router.get(
        "/profiles/{profile_id}",
        response_model=ProfileOverviewOut,
        summary="A profile's mailboxes and the share failing in the last hour (R-ERR-7)",
    )
    def profile_overview(profile_id: ItemId, ctx: Ctx, _: Reader) -> ProfileOverviewOut:
        found = read_overview(ctx.store, profile_id, ctx.clock())
        items = [
            ProfileMailboxOut(
                mailbox_id=row.mailbox.id, name=row.mailbox.name, email_address=row.mailbox.email_address,
                incoming=row.states["incoming"], outgoing=row.states["outgoing"], act=row.states["act"],
                failing_last_hour=row.failing_last_hour,
                last_sync_error=row.mailbox.last_sync_error if row.mailbox.last_sync_error_count else None,
            )
            for row in found.mailboxes
        ]  # fmt: skip
        return ProfileOverviewOut(
            profile_id=found.profile.id, name=found.profile.name, mailboxes=len(items),
            failing_last_hour=found.failing_last_hour, failing_share=round(found.failing_share, 4),
            over_alert_threshold=found.over_alert_threshold, items=items,
            test_and_enable=f"/api/profiles/{found.profile.id}/test-and-enable",
        )  # fmt: skip

    return router
