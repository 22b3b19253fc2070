"""Operating the service: "synchronize now", a mailbox's recent cycles, mailbox states filtered, and the
organization's summary.

Costs per request (Table requests), whatever the number of mailboxes:

- ``POST /mailboxes/{id}/sync``: 3 reads (mailbox, profile, organization) and, per scheduled workload, 2 more
  reads and writes of the mailbox plus 1 due-index transaction;
- ``GET /mailboxes/{id}/cycles``: 1 partition query (at most 102 rows);
- ``GET /mailboxes/health``: 1 organization read, 1 page of the Mailboxes table, 1 read per distinct profile
  on the page; states are computed per row, so a filtered page may hold fewer items than ``page_size`` (even
  none) while ``continuation`` says there is more;
- ``GET /summary``: 1 snapshot read plus 1 page of the newest 10-minute totals (``sync/operations/summary.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sync.api.auth import Admin, Reader
from sync.api.context import Ctx
from sync.api.resources import Continuation, ItemId, PageSize, query_page
from sync.health.mailbox_state import HealthState, mailbox_state
from sync.model import EmailServerProfile
from sync.operations.cycles import CycleEntry, Workload
from sync.operations.states import WorkloadState, parse_state, workload_states
from sync.operations.summary import summary
from sync.operations.sync_now import Choice, NotSchedulable, sync_now
from sync.store.due_index import parse_row_key


class SyncNowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workload: Choice = Field(default="both", description="incoming, act, or both (the workloads the mailbox uses).")


class SyncNowAccepted(BaseModel):
    mailbox_id: str = Field(description="The mailbox asked to sync.")
    due_on: datetime = Field(description="When the scheduled workloads are due: the next scheduler tick claims them.")
    scheduled: list[str] = Field(description="The workloads put on the schedule now: incoming, act.")
    not_scheduled: dict[str, list[str]] = Field(description="Workloads of 'both' that cannot run now, and why.")


class MailboxStates(BaseModel):
    mailbox_id: str = Field(description="The mailbox's id.")
    name: str = Field(description="The mailbox's name.")
    state: HealthState = Field(description="The one word of GET /mailboxes/{id}/health.")
    incoming: WorkloadState = Field(description="Incoming email: healthy, failing, disabled, not_tested or not_used.")
    outgoing: WorkloadState = Field(description="Outgoing email: healthy, failing, disabled, not_tested or not_used.")
    act: WorkloadState = Field(description="Appointments, contacts and tasks: as incoming.")
    last_sync_started_on: datetime | None = Field(description="When the last incoming cycle started.")
    last_sync_error: str | None = Field(description="The last cycle's error, if it failed.")
    last_sync_error_occurred_on: datetime | None = Field(description="When that error happened.")
    next_due: datetime | None = Field(description="When the scheduler next claims the mailbox for incoming email.")


class MailboxStatesPage(BaseModel):
    items: list[MailboxStates] = Field(description="The mailboxes of this page that match the filters.")
    continuation: str | None = Field(description="Send it back as ?continuation= for the next page; null at the end.")


StateFilter = Annotated[
    str | None, Query(max_length=32, description="healthy, failing, disabled, not_tested, inactive or not_used")
]


def build_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.post(
        "/mailboxes/{mailbox_id}/sync",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=SyncNowAccepted,
        responses={409: {"description": "Nothing asked for may run now; the reasons per workload say why."}},
        summary="Synchronize now: the next scheduler tick runs the mailbox's incoming and/or ACT cycle",
    )
    def synchronize_now(
        mailbox_id: ItemId,
        ctx: Ctx,
        _: Admin,
        body: SyncNowRequest | None = None,
        workload: Annotated[Choice | None, Query(description="Instead of a body: incoming, act or both.")] = None,
    ) -> Any:
        choice = body.workload if body is not None else workload
        try:
            done = sync_now(ctx.store, mailbox_id, choice, ctx.clock())
        except NotSchedulable as exc:
            return JSONResponse(status_code=409, content={"detail": str(exc), "reasons": exc.reasons})
        return SyncNowAccepted(
            mailbox_id=done.mailbox_id, due_on=done.due_on, scheduled=done.scheduled, not_scheduled=done.refused
        )

    @router.get(
        "/mailboxes/{mailbox_id}/cycles",
        response_model=list[CycleEntry],
        summary="The mailbox's recent cycles (the last 50 per workload that did something), newest first",
    )
    def list_cycles(
        mailbox_id: ItemId,
        ctx: Ctx,
        _: Reader,
        workload: Annotated[Workload | None, Query(description="Only this workload's cycles: incoming or act.")] = None,
    ) -> list[CycleEntry]:
        ctx.store.get_mailbox(mailbox_id)
        return ctx.store.cycle_history.recent(mailbox_id, workload)

    @router.get(
        "/mailboxes/health",
        response_model=MailboxStatesPage,
        summary="Every mailbox's health and state per workload, filtered by state (e.g. ?incoming=failing)",
    )
    def list_mailbox_states(
        ctx: Ctx,
        _: Reader,
        state: Annotated[
            str | None, Query(max_length=32, description="healthy, failing, disabled, not_tested or inactive")
        ] = None,
        incoming: StateFilter = None,
        outgoing: StateFilter = None,
        act: StateFilter = None,
        page_size: PageSize = 100,
        continuation: Continuation = None,
    ) -> MailboxStatesPage:
        wanted: dict[str, WorkloadState] = {
            name: parse_state(value, f"query.{name}")
            for name, value in (("incoming", incoming), ("outgoing", outgoing), ("act", act))
            if value is not None
        }
        overall = parse_state(state, "query.state", HealthState) if state is not None else None
        now, org = ctx.clock(), ctx.store.get_organization()
        mailboxes, token = query_page(ctx.store.mailboxes, None, {}, page_size, continuation)
        profiles: dict[str, EmailServerProfile | None] = {}
        items = []
        for mailbox in mailboxes:
            profile_id = mailbox.email_server_profile_id or ""
            if profile_id not in profiles:
                profiles[profile_id] = ctx.store.find_profile(profile_id) if profile_id else None
            states = workload_states(mailbox, profiles[profile_id], org, now)
            health = mailbox_state(states)
            if not all(states[name] is wanted_state for name, wanted_state in wanted.items()):
                continue
            if overall is not None and health is not overall:
                continue
            items.append(
                MailboxStates(
                    mailbox_id=mailbox.id, name=mailbox.name, state=health, **states,
                    last_sync_started_on=mailbox.last_sync_started_on,
                    last_sync_error=mailbox.last_sync_error if mailbox.last_sync_error_count else None,
                    last_sync_error_occurred_on=mailbox.last_sync_error_occurred_on,
                    next_due=parse_row_key(mailbox.due_row_key).due_on if mailbox.due_row_key else None,
                )
            )  # fmt: skip
        return MailboxStatesPage(items=items, continuation=token)

    @router.get("/summary", summary="The organization at a glance: mailbox states, emails tracked and failed")
    def get_summary(ctx: Ctx, _: Reader) -> dict[str, Any]:
        return summary(ctx.store, ctx.clock())

    return router
