"""Health, alerts, item-level failures and quarantine: what an administrator watches (R-ERR-*, §1.10).

- a mailbox's health: one word for its state plus the figures behind it (last sync, items, last error, next due);
- a profile's health: the share of its mailboxes that failed in the last hour (R-ERR-7: over half is an alert);
- alerts: filter by level, mailbox or profile; dismiss;
- item failures: why a message was not tracked (R-ACC-9, kept N-26 days);
- quarantine: messages that broke the pipeline, replayable after a fix.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from sync.api.auth import Admin, Reader
from sync.api.context import Ctx
from sync.api.readable import OptionSet, choices
from sync.api.resources import Continuation, ItemId, PageSize, Shape, query_page
from sync.health.mailbox_state import HealthState, mailbox_state
from sync.incoming.reasons import Reason
from sync.incoming.replay import replay_quarantine
from sync.mailboxes import eligibility
from sync.model import Alert, ItemFailure, Mailbox
from sync.model.options import AlertLevel, TestStatus
from sync.operations.states import WorkloadState, workload_states
from sync.store.due_index import parse_row_key
from sync.store.schema import alert_row_key

AlertCode = Annotated[int, Path(ge=-2_147_483_648, le=1_000_000_000, description="The alert's code.")]
FAILURE_WINDOW = timedelta(hours=1)  # R-ERR-7 / N-11
PROFILE_ALERT_SHARE = 0.5  # "more than 50 % of the profile's mailboxes"

ALERT = Shape(Alert)
FAILURE = Shape(ItemFailure)


class LastError(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    message: str | None
    """The error's message."""
    code: int | None
    """The error's code (Dynamics' email server error codes where they apply)."""
    count: int
    """How many times in a row it happened."""
    occurred_on: datetime | None
    """When it last happened."""


class MailboxHealth(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: str
    """The mailbox's id."""
    name: str
    """The mailbox's name."""
    state: HealthState
    """One word over the workloads the mailbox uses (not_used ones do not count), the worst first: failing,
    not_tested, inactive, disabled (also when it uses none), else healthy."""
    incoming: WorkloadState
    """Incoming email's own word: healthy, failing, disabled, not_tested, inactive or not_used."""
    outgoing: WorkloadState
    """Outgoing email's own word, as incoming."""
    act: WorkloadState
    """Appointments, contacts and tasks: their own word, as incoming."""
    not_eligible_because: list[str]
    """Why the mailbox is not processed now, if it is not (e.g. not_approved, postponed)."""
    incoming_status: Annotated[int, OptionSet(TestStatus)]
    """The last incoming test's result."""
    outgoing_status: Annotated[int, OptionSet(TestStatus)]
    """The last outgoing test's result."""
    enabled_for_incoming: bool
    """Incoming email is processed."""
    enabled_for_outgoing: bool
    """Outgoing email is sent."""
    last_sync_started_on: datetime | None
    """When the last cycle started."""
    last_successful_sync_completed_on: datetime | None
    """When the last successful cycle finished."""
    items_processed_for_last_sync: int
    """Messages processed in the last cycle."""
    items_failed_for_last_sync: int
    """Messages that failed in the last cycle."""
    transient_failure_count: int
    """Transient failures in a row."""
    last_error: LastError | None
    """The last error, if there was one."""
    next_due: datetime | None
    """When the mailbox is next processed; none when it is not scheduled."""


class ProfileHealth(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    profile_id: str
    """The profile's id."""
    mailboxes: int
    """Mailboxes on the profile."""
    failing_last_hour: int
    """Mailboxes that failed in the last hour."""
    failing_share: float
    """The share of mailboxes that failed in the last hour, 0 to 1."""
    over_alert_threshold: bool
    """More than half failed: the profile's owner is alerted when send_email_alert is on."""


class Replayed(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    message_key: str
    """The message's key on the mail server."""
    outcome: str
    """What the pipeline did with it this time (a reason, e.g. SenderMatch)."""
    released: bool
    """Whether it left the quarantine."""


def failed_recently(mailbox: Mailbox, now: datetime) -> bool:
    """An error in the window that no successful cycle has cleared since."""
    when = mailbox.last_sync_error_occurred_on
    return bool(when and now - when <= FAILURE_WINDOW and mailbox.last_sync_error_count > 0)


def build_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/mailboxes/{mailbox_id}/health", response_model=MailboxHealth, summary="A mailbox's health")
    def get_mailbox_health(mailbox_id: ItemId, ctx: Ctx, _: Reader) -> MailboxHealth:
        mailbox = ctx.store.get_mailbox(mailbox_id)
        profile = ctx.store.find_profile(mailbox.email_server_profile_id or "")
        org, now = ctx.store.get_organization(), ctx.clock()
        verdict = eligibility.incoming(mailbox, profile, org, now)
        states = workload_states(mailbox, profile, org, now)
        reasons = [str(r) for r in verdict.reasons]
        error = None
        if mailbox.last_sync_error_count or mailbox.last_sync_error:
            error = LastError(
                message=mailbox.last_sync_error,
                code=mailbox.last_sync_error_code,
                count=mailbox.last_sync_error_count,
                occurred_on=mailbox.last_sync_error_occurred_on,
            )
        return MailboxHealth(
            mailbox_id=mailbox.id,
            name=mailbox.name,
            state=mailbox_state(states),
            **states,
            not_eligible_because=reasons,
            incoming_status=mailbox.incoming_status,
            outgoing_status=mailbox.outgoing_status,
            enabled_for_incoming=mailbox.enabled_for_incoming,
            enabled_for_outgoing=mailbox.enabled_for_outgoing,
            last_sync_started_on=mailbox.last_sync_started_on,
            last_successful_sync_completed_on=mailbox.last_successful_sync_completed_on,
            items_processed_for_last_sync=mailbox.items_processed_for_last_sync,
            items_failed_for_last_sync=mailbox.items_failed_for_last_sync,
            transient_failure_count=mailbox.transient_failure_count,
            last_error=error,
            next_due=parse_row_key(mailbox.due_row_key).due_on if mailbox.due_row_key else None,
        )

    @router.get("/profiles/{profile_id}/health", response_model=ProfileHealth, summary="A profile's health (R-ERR-7)")
    def get_profile_health(profile_id: ItemId, ctx: Ctx, _: Reader) -> ProfileHealth:
        ctx.store.get_profile(profile_id)
        now = ctx.clock()
        boxes = list(ctx.store.mailboxes.query("email_server_profile_id eq @p", {"p": profile_id}))
        failing = sum(failed_recently(m, now) for m in boxes)
        share = failing / len(boxes) if boxes else 0.0
        return ProfileHealth(
            profile_id=profile_id,
            mailboxes=len(boxes),
            failing_last_hour=failing,
            failing_share=round(share, 4),
            over_alert_threshold=share > PROFILE_ALERT_SHARE,
        )

    @router.get(
        "/alerts",
        response_model=ALERT.page_model(),
        summary="Alerts, newest state first per record; filter by level, mailbox or profile",
    )
    def list_alerts(
        ctx: Ctx,
        _: Reader,
        level: Annotated[
            Annotated[int, OptionSet(AlertLevel)] | None,
            Query(description=f"Only alerts of this level, by name (any case) or number: {choices(AlertLevel)}."),
        ] = None,
        mailbox_id: Annotated[str | None, Query(max_length=64, description="Only the alerts of this mailbox.")] = None,
        profile_id: Annotated[str | None, Query(max_length=64, description="Only the alerts of this profile.")] = None,
        include_dismissed: Annotated[bool, Query(description="Dismissed alerts too.")] = False,
        page_size: PageSize = 100,
        continuation: Continuation = None,
    ) -> dict[str, Any]:
        clauses, params = [], {}
        for name, value in (
            ("level", int(level) if level is not None else None),
            ("mailbox_id", mailbox_id),
            ("profile_id", profile_id),
        ):
            if value is not None:
                clauses.append(f"{name} eq @{name}")
                params[name] = value
        if not include_dismissed:
            clauses.append("dismissed eq false")
        items, token = query_page(ctx.store.alerts, " and ".join(clauses) or None, params, page_size, continuation)
        return {"items": [ALERT.output(a) for a in items], "continuation": token}

    @router.post(
        "/alerts/{regarding_id}/{code}/dismiss",
        response_model=ALERT.output_model(),
        summary="Dismiss an alert (a repeat of it shows it again)",
    )
    def dismiss_alert(regarding_id: ItemId, code: AlertCode, ctx: Ctx, _: Admin) -> dict[str, Any]:
        def dismiss(alert: Alert) -> None:
            alert.dismissed = True

        return ALERT.output(ctx.store.alerts.modify(regarding_id, alert_row_key(code), dismiss))

    @router.get(
        "/mailboxes/{mailbox_id}/item-failures",
        response_model=FAILURE.page_model(),
        summary="Why messages were not tracked (item level)",
    )
    def list_item_failures(
        mailbox_id: ItemId,
        ctx: Ctx,
        _: Reader,
        reason: Annotated[
            Annotated[int, OptionSet(Reason)] | None,
            Query(description="Only failures for this reason, e.g. NoCorrelationMatch (any case) or its code."),
        ] = None,
        page_size: PageSize = 100,
        continuation: Continuation = None,
    ) -> dict[str, Any]:
        query, params = "PartitionKey eq @pk", {"pk": mailbox_id}
        if reason is not None:
            query, params = query + " and reason eq @reason", {**params, "reason": Reason(reason).label}
        items, token = query_page(ctx.store.item_failures, query, params, page_size, continuation)
        return {"items": [FAILURE.output(f) for f in items], "continuation": token}

    @router.get(
        "/mailboxes/{mailbox_id}/quarantine",
        response_model=FAILURE.page_model(),
        summary="Quarantined messages of a mailbox",
    )
    def list_quarantine(
        mailbox_id: ItemId, ctx: Ctx, _: Reader, page_size: PageSize = 100, continuation: Continuation = None
    ) -> dict[str, Any]:
        query = "PartitionKey eq @pk and reason eq @reason"
        params = {"pk": mailbox_id, "reason": Reason.QUARANTINED.label}
        items, token = query_page(ctx.store.item_failures, query, params, page_size, continuation)
        return {"items": [FAILURE.output(f) for f in items], "continuation": token}

    @router.post(
        "/mailboxes/{mailbox_id}/quarantine/replay",
        response_model=list[Replayed],
        summary="Run the mailbox's quarantined messages through the pipeline again",
    )
    def replay(mailbox_id: ItemId, ctx: Ctx, _: Admin) -> list[Replayed]:
        results = replay_quarantine(ctx.store, ctx.settings, mailbox_id)
        return [Replayed(message_key=r.message_key, outcome=r.outcome, released=r.released) for r in results]

    return router
