"""One finished cycle of one mailbox, as an administrator reads it in the mailbox's recent history.

Pure: built from the worker's own report, so the incoming and ACT workers share one shape. ``failed`` counts
the items that broke (quarantined emails, ACT item errors); ``not_tracked`` the emails deliberately left out,
with their reasons in ``reasons``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from sync.incoming.reasons import Reason

if TYPE_CHECKING:  # the ACT cycle imports the store, which imports this module
    from sync.act.cycle import ActReport

Workload = Literal["incoming", "act"]
NOT_EXPLAINING = frozenset({r.label for r in Reason if r.accepted} | {Reason.QUARANTINED.label})
MAX_ERROR_CHARS = 1024  # a row stays small: the full error is on the mailbox and in the alert


class CycleEntry(BaseModel):
    mailbox_id: str = Field(description="The mailbox the cycle ran for.")
    workload: Workload = Field(description="incoming (email) or act (appointments, contacts and tasks).")
    sequence: int = Field(default=0, ge=0, description="The cycle's number in its mailbox and workload, from 0.")
    started_on: datetime = Field(description="When the cycle started.")
    duration_ms: int = Field(ge=0, description="How long it ran, in milliseconds.")
    listed: int = Field(default=0, description="Items the server listed as new (ACT: items read both ways).")
    tracked: int = Field(default=0, description="Emails tracked (ACT: records created or updated).")
    not_tracked: int = Field(default=0, description="Emails deliberately not tracked (the reasons below).")
    failed: int = Field(default=0, description="Items that failed (quarantined or to be retried).")
    outcome: str = Field(description="How the cycle ended: processed, failed, disabled, throttled, ...")
    error: str | None = Field(default=None, description="The cycle's error, when it failed (shortened).")
    reasons: dict[str, int] = Field(default_factory=dict, description="Why emails were not tracked, with counts.")


def _clip(error: str | None) -> str | None:
    return error[:MAX_ERROR_CHARS] if error else None


def incoming_entry(
    mailbox_id: str, started_on: datetime, duration_ms: int, *, status: str, listed: int, tracked: int,
    not_tracked: int, quarantined: int, error: str | None, reasons: Mapping[str, int],
) -> CycleEntry:  # fmt: skip
    """An incoming cycle; only the reasons of emails not tracked are kept (the others explain nothing)."""
    return CycleEntry(
        mailbox_id=mailbox_id, workload="incoming", started_on=started_on, duration_ms=max(duration_ms, 0),
        listed=listed, tracked=tracked, not_tracked=not_tracked, failed=quarantined, outcome=status,
        error=_clip(error), reasons={k: v for k, v in reasons.items() if v and k not in NOT_EXPLAINING},
    )  # fmt: skip


def act_entry(
    mailbox_id: str, started_on: datetime, duration_ms: int, *, status: str, report: ActReport | None,
    error: str | None,
) -> CycleEntry:  # fmt: skip
    """An ACT cycle: ``listed`` is the Exchange changes looked at, ``tracked`` what either side wrote."""
    return CycleEntry(
        mailbox_id=mailbox_id, workload="act", started_on=started_on, duration_ms=max(duration_ms, 0),
        listed=report.pulled if report else 0, tracked=report.changes if report else 0,
        failed=report.item_errors if report else 0, outcome=status, error=_clip(error),
    )  # fmt: skip
