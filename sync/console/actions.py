"""What the console's buttons do, one mailbox at a time, each answering with a result in words.

Every action calls the same function the API route calls (``sync.api.mailbox_actions.set_approval``, Test &
Enable, ``sync.operations.sync_now``, the mailbox resource's own save), so the console and the API cannot
disagree. A bulk action runs the action per mailbox and reports each one: one mailbox failing does not stop
the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sync.api import mailboxes as mailbox_resource
from sync.api.auth import Principal
from sync.api.context import ApiContext
from sync.api.mailbox_actions import set_approval
from sync.errors import SyncError
from sync.mailboxes.test_enable import TestReport
from sync.model.options import EmailAddressApproval, TestStatus
from sync.operations.sync_now import NotSchedulable, sync_now

DIRECTIONS = {"incoming": "enabled_for_incoming", "outgoing": "enabled_for_outgoing", "act": "enabled_for_act"}
APPROVER_ACTIONS = frozenset({"approve"})
ADMIN_ACTIONS = frozenset({"test-and-enable", "sync-now", "enable", "disable"})
MAX_BULK = 100  # mailboxes per bulk action: one page of the grid, and a request that ends in reasonable time


@dataclass(frozen=True)
class ActionResult:
    mailbox_id: str
    name: str
    ok: bool
    text: str


def report_text(report: TestReport) -> str:
    """Test & Enable's outcome in the server's own words: each problem's message and fix."""
    if report.succeeded:
        return "Test & Enable succeeded: " + ", ".join(
            f"{w} {s.name.lower().replace('_', ' ')}"
            for w, s in (("incoming", report.incoming), ("outgoing", report.outgoing), ("ACT", report.act))
            if s is not TestStatus.NOT_RUN
        )
    return "Test & Enable failed: " + " ".join(
        f"{p.workload}: {p.message}" + (f" Fix: {p.fix}" if p.fix else "") for p in report.problems
    )


def test_and_enable(ctx: ApiContext, mailbox_id: str, by: Principal) -> tuple[bool, str]:
    report = ctx.test_and_enable().run(mailbox_id, by=by.id)
    return report.succeeded, report_text(report)


def approve(ctx: ApiContext, mailbox_id: str, by: Principal) -> tuple[bool, str]:
    set_approval(ctx, mailbox_id, EmailAddressApproval.APPROVED, by)
    return True, "approved"


def synchronize_now(ctx: ApiContext, mailbox_id: str, by: Principal) -> tuple[bool, str]:
    try:
        done = sync_now(ctx.store, mailbox_id, "both", ctx.clock())
    except NotSchedulable as exc:
        return False, str(exc)
    refused = "; ".join(f"{w} not scheduled: {', '.join(r)}" for w, r in done.refused.items())
    return True, f"{', '.join(done.scheduled)} due now" + (f" ({refused})" if refused else "")


def set_direction(ctx: ApiContext, mailbox_id: str, direction: str, enabled: bool) -> tuple[bool, str]:
    """Switch one workload on or off through the mailbox resource's save (a switched-on one is scheduled)."""
    field_name = DIRECTIONS[direction]
    stored = ctx.store.get_mailbox(mailbox_id)
    changed = stored.model_copy(update={field_name: enabled})
    save = mailbox_resource.RESOURCE.save
    assert save is not None  # mailboxes are writable through the API
    save(ctx, stored, changed)
    return True, f"{direction} {'enabled' if enabled else 'disabled'}"


def run_one(ctx: ApiContext, action: str, mailbox_id: str, by: Principal, direction: str = "") -> ActionResult:
    """One action on one mailbox; an error of the service becomes the mailbox's result, in its own words."""
    steps: dict[str, Callable[[], tuple[bool, str]]] = {
        "approve": lambda: approve(ctx, mailbox_id, by),
        "test-and-enable": lambda: test_and_enable(ctx, mailbox_id, by),
        "sync-now": lambda: synchronize_now(ctx, mailbox_id, by),
        "enable": lambda: set_direction(ctx, mailbox_id, direction, True),
        "disable": lambda: set_direction(ctx, mailbox_id, direction, False),
    }
    try:
        name = ctx.store.get_mailbox(mailbox_id).name
        ok, text = steps[action]()
    except SyncError as exc:
        return ActionResult(mailbox_id, mailbox_id, False, str(exc))
    return ActionResult(mailbox_id, name, ok, text)
