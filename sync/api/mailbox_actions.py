"""Actions on mailboxes: Test & Enable (R-TE-*), approve and reject addresses (R-APP-*), apply the default
email settings (R-PROV-3), and a profile's "Test & Enable Mailboxes" (R-TE-1). Approving and rejecting need
``Sync.Approver`` (R-SEC-2); the others ``Sync.Admin``.

Approval records who and when on the mailbox and mirrors the status onto the owning user or queue; rejecting
clears who and when (R-APP-6). Approval does not start an untested mailbox: Test & Enable does (R-APP-5).
Test & Enable answers 200 with the statuses also when a test failed: the failure is the result, recorded on
the mailbox and as alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field

from sync.api import mailboxes
from sync.api.auth import EXCHANGE_APPROVER_DIRECTORY_ROLES, Admin, Approver, Principal, Reader
from sync.api.context import ApiContext, Ctx
from sync.api.readable import OptionSet
from sync.api.resources import ItemId
from sync.mailboxes.approval import apply_decision
from sync.mailboxes.test_enable import TestReport
from sync.model import Mailbox, Queue, SystemUser
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    TestStatus,
)
from sync.scheduling.scheduler import schedule_now
from sync.scheduling.test_enable_queue import profile_progress, request_profile_tests


class TestAndEnableRequest(BaseModel):
    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid")

    process_email_received_after: datetime | None = Field(
        default=None, description="Start date (R-TE-8): only email received after it is processed."
    )


class ProblemOut(BaseModel):
    workload: str = Field(description="incoming, outgoing, act, or mailbox (the mailbox itself cannot be tested).")
    code: str = Field(description="The failure's code, as in the alerts.")
    message: str = Field(description="What is wrong, in words.")
    fix: str | None = Field(default=None, description="What to change, naming the field or setting, when known.")


class TestAndEnableResult(BaseModel):
    __test__ = False  # not a pytest class
    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: str
    """The mailbox tested."""
    succeeded: bool
    """Every configured workload passed."""
    incoming_status: Annotated[int, OptionSet(TestStatus)]
    """The incoming test's result."""
    outgoing_status: Annotated[int, OptionSet(TestStatus)]
    """The outgoing test's result."""
    act_status: Annotated[int, OptionSet(TestStatus)]
    """The appointments, contacts and tasks test's result (not_run when ACT is not configured)."""
    mailbox_status: Annotated[int, OptionSet(TestStatus)]
    """The result for the mailbox as a whole."""
    problems: list[ProblemOut]
    """What failed, one entry per problem."""
    mailbox: dict[str, Any]
    """The mailbox after the test, as GET /mailboxes/{id} shows it."""


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved_by_o365_admin: bool = Field(
        default=False,
        description="Require that this approval counts as a Microsoft 365 administrator's (R-ELIG-7, R-APP-2): "
        "403 unless the caller's Entra ID token names the Global Administrator or Exchange Administrator "
        "directory role (wids). Such a caller's approval counts anyway; the flag is never taken on trust.",
    )


class ApplyDefaultsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    test_and_enable: bool = Field(default=True, description="Run Test & Enable afterwards, as Dynamics does.")


class ProfileTestRequested(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    profile_id: str
    """The profile whose mailboxes are queued for testing."""
    requested_on: datetime
    """When the tests were requested: pass it as ``since`` to the progress route."""
    queued: int
    """Mailboxes queued."""
    mailbox_ids: list[str]
    """The mailboxes queued."""
    progress: str
    """Where to follow the progress (GET)."""


class MailboxTestProgress(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    mailbox_id: str
    """The mailbox."""
    tested: bool
    """Tested since the request."""
    mailbox_status: Annotated[int, OptionSet(TestStatus)]
    """Its last test's result."""
    tested_on: datetime | None
    """When it was last tested."""


class ProfileTestProgress(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    profile_id: str
    """The profile."""
    since: datetime | None
    """Tests at or after this time count as done (none: every test so far)."""
    total: int
    """The profile's mailboxes."""
    pending: int
    """Not tested since the request yet."""
    succeeded: int
    """Tested since the request, and passed."""
    failed: int
    """Tested since the request, and failed."""
    mailboxes: list[MailboxTestProgress]
    """Each mailbox's progress."""


def _result(report: TestReport) -> TestAndEnableResult:
    mailbox = report.mailbox
    return TestAndEnableResult(
        mailbox_id=mailbox.id,
        succeeded=report.succeeded,
        incoming_status=mailbox.incoming_status,
        outgoing_status=mailbox.outgoing_status,
        act_status=mailbox.act_status,
        mailbox_status=mailbox.mailbox_status,
        problems=[ProblemOut(workload=p.workload, code=p.code, message=p.message, fix=p.fix) for p in report.problems],
        mailbox=mailboxes.SHAPE.output(mailbox),
    )


def set_approval(ctx: ApiContext, mailbox_id: str, approval: EmailAddressApproval, by: Principal) -> Mailbox:
    """The mailbox's approval and the owner's, with who and when (cleared on rejection)."""
    now = ctx.clock()
    approved = approval is EmailAddressApproval.APPROVED

    def change(m: Mailbox) -> None:
        apply_decision(m, approval, by=by.id, on=now, by_exchange_administrator=by.is_exchange_administrator)

    mailbox = ctx.store.mailboxes.modify(mailbox_id, "mailbox", change)
    owner = ctx.store.find_record(mailbox.owner.type, mailbox.owner.id) if mailbox.owner else None
    if isinstance(owner, (SystemUser, Queue)) and owner.approval is not approval:
        owner.approval = approval
        ctx.records.update(owner)
    return schedule_now(ctx.store, mailbox.id) if approved and mailbox.enabled_for_incoming else mailbox


def build_router() -> APIRouter:
    router = APIRouter(tags=["mailbox actions"])

    @router.post("/mailboxes/{mailbox_id}/test-and-enable", response_model=TestAndEnableResult, summary="Test & Enable")
    def test_and_enable(
        mailbox_id: ItemId, ctx: Ctx, principal: Admin, body: TestAndEnableRequest | None = None
    ) -> TestAndEnableResult:
        """Test incoming (connect, log in, list), outgoing (a test email to the mailbox itself) and ACT where
        configured; record the statuses, enable what passed, and raise alerts for what failed."""
        start = body.process_email_received_after if body else None
        report = ctx.test_and_enable().run(mailbox_id, by=principal.id, start_date=start)
        return _result(report)

    @router.post(
        "/mailboxes/{mailbox_id}/approve",
        response_model=mailboxes.SHAPE.output_model(),
        summary="Approve the mailbox's email address (R-APP-1)",
    )
    def approve(
        mailbox_id: ItemId, ctx: Ctx, principal: Approver, body: ApproveRequest | None = None
    ) -> dict[str, Any]:
        """Approve the address. Untested workloads stay disabled until a Test & Enable succeeds (R-APP-5)."""
        if body is not None and body.approved_by_o365_admin and not principal.is_exchange_administrator:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "an approval by a Microsoft 365 administrator needs an Entra ID token whose wids claim names the "
                "Global Administrator or Exchange Administrator role "
                f"({', '.join(sorted(EXCHANGE_APPROVER_DIRECTORY_ROLES))})",
            )
        return mailboxes.SHAPE.output(set_approval(ctx, mailbox_id, EmailAddressApproval.APPROVED, principal))

    @router.post(
        "/mailboxes/{mailbox_id}/reject",
        response_model=mailboxes.SHAPE.output_model(),
        summary="Reject the mailbox's email address (R-APP-6)",
    )
    def reject(mailbox_id: ItemId, ctx: Ctx, principal: Approver) -> dict[str, Any]:
        mailbox = set_approval(ctx, mailbox_id, EmailAddressApproval.REJECTED, principal)
        return mailboxes.SHAPE.output(mailbox)

    @router.post(
        "/mailboxes/{mailbox_id}/apply-default-email-settings",
        summary="Apply the organization's default profile and methods (R-PROV-3)",
    )
    def apply_defaults(
        mailbox_id: ItemId, ctx: Ctx, principal: Admin, body: ApplyDefaultsRequest | None = None
    ) -> dict[str, Any]:
        org = ctx.store.get_organization()
        sync_by_default = (
            org.default_incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC
            or org.default_outgoing_method is OutgoingDeliveryMethod.SERVER_SIDE_SYNC
            or org.default_act_method is ActDeliveryMethod.SERVER_SIDE_SYNC
        )
        if sync_by_default and not org.default_email_server_profile_id:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "the organization has no default email server profile to apply: set default_email_server_profile_id "
                "(PATCH /api/organization), or give the mailbox a profile itself (PATCH email_server_profile_id)",
            )

        def change(m: Mailbox) -> None:
            if m.is_forward_mailbox:
                m.incoming_method = IncomingDeliveryMethod.SERVER_SIDE_SYNC
            else:
                m.incoming_method = org.default_incoming_method
                m.outgoing_method = org.default_outgoing_method
                m.act_method = org.default_act_method if m.is_user_mailbox else ActDeliveryMethod.NONE
            uses_sync = (
                m.incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC
                or m.outgoing_method is OutgoingDeliveryMethod.SERVER_SIDE_SYNC
                or m.act_method is ActDeliveryMethod.SERVER_SIDE_SYNC
            )
            if uses_sync and org.default_email_server_profile_id:
                m.email_server_profile_id = org.default_email_server_profile_id

        mailbox = ctx.store.mailboxes.modify(mailbox_id, "mailbox", change)
        if body is None or body.test_and_enable:
            return _result(ctx.test_and_enable().run(mailbox_id, by=principal.id)).model_dump(mode="json")
        return {"mailbox_id": mailbox.id, "mailbox": mailboxes.SHAPE.output(mailbox)}

    @router.post(
        "/profiles/{profile_id}/test-and-enable",
        response_model=ProfileTestRequested,
        status_code=status.HTTP_202_ACCEPTED,
        summary="Test & Enable every mailbox of a profile, in the background (R-TE-1)",
    )
    def test_profile(profile_id: ItemId, ctx: Ctx, principal: Admin) -> ProfileTestRequested:
        """Queue a Test & Enable of each of the profile's mailboxes (as Dynamics' asynchronous job); the
        ``test-and-enable`` queue trigger runs them. Follow them with GET on the same path."""
        now = ctx.clock()
        queued = request_profile_tests(ctx.store, profile_id, by=principal.id, now=now)
        return ProfileTestRequested(
            profile_id=profile_id,
            requested_on=now,
            queued=len(queued),
            mailbox_ids=queued,
            progress=f"/api/profiles/{profile_id}/test-and-enable?since={quote(now.isoformat())}",
        )

    @router.get(
        "/profiles/{profile_id}/test-and-enable",
        response_model=ProfileTestProgress,
        summary="Progress of a profile's Test & Enable (R-TE-1)",
    )
    def test_profile_progress(
        profile_id: ItemId,
        ctx: Ctx,
        _: Reader,
        since: Annotated[
            datetime | None, Query(description="The request's requested_on: tests from then on count as done.")
        ] = None,
    ) -> ProfileTestProgress:
        """Each of the profile's mailboxes: tested since ``since`` (the request's ``requested_on``) or not yet."""
        found = profile_progress(ctx.store, profile_id, since)
        rows = [
            MailboxTestProgress(
                mailbox_id=m.mailbox_id, tested=m.tested, mailbox_status=m.status, tested_on=m.tested_on
            )
            for m in found.mailboxes
        ]
        return ProfileTestProgress(
            profile_id=profile_id, since=since, total=len(rows), pending=found.pending, succeeded=found.succeeded,
            failed=found.failed, mailboxes=rows,
        )  # fmt: skip

    return router
