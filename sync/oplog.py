"""One log line per unit of work, for people watching the service run (``make dev``, Application Insights).

Pure formatters: each trigger in ``function_app.py`` passes its report and how long it took. A timer tick
that found nothing returns ``None`` (logged at debug level), so an idle service stays quiet: with the
mailbox timer firing every minute, idle lines would bury the ones that matter.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

from sync.act.worker import ActRun
from sync.incoming.worker import CycleReport
from sync.outgoing.sender import SendReport


def tick_line(timer: str, report: Any) -> str | None:
    """``scheduler tick: due=3 dispatched=3 ...`` with the non-zero counters, or None when it found no work."""
    counters = asdict(report) if is_dataclass(report) and not isinstance(report, type) else {}
    found = {name: value for name, value in counters.items() if isinstance(value, int) and value}
    if not found:
        return None
    return f"{timer}: " + " ".join(f"{name}={value}" for name, value in found.items())


def mailbox_cycle_line(report: CycleReport, seconds: float) -> str:
    """What one incoming cycle of one mailbox did."""
    line = (
        f"mailbox cycle: mailbox={report.mailbox_id} status={report.status} listed={report.listed} "
        f"tracked={report.tracked} not_tracked={report.not_tracked} failed={report.quarantined} "
        f"duration={seconds:.2f}s"
    )
    if report.reasons:
        line += " reasons=" + ",".join(f"{reason}:{count}" for reason, count in sorted(report.reasons.items()))
    if report.error:
        line += f" error={report.error}"
    return line


def send_line(report: SendReport, seconds: float) -> str:
    """What one outgoing send did."""
    line = f"outgoing send: email={report.email_id} outcome={report.outcome} attempts={report.attempts}"
    line += f" duration={seconds:.2f}s"
    return f"{line} detail={report.detail}" if report.detail else line


def act_cycle_line(run: ActRun, seconds: float) -> str:
    """What one appointment, contact and task cycle of one mailbox did."""
    line = f"ACT cycle: mailbox={run.mailbox_id} status={run.status}"
    if run.report is not None:
        r = run.report
        line += (
            f" pulled={r.pulled} to_crm={r.created_in_crm + r.updated_in_crm + r.deleted_in_crm}"
            f" to_exchange={r.created_in_exchange + r.updated_in_exchange + r.deleted_in_exchange}"
            f" conflicts={r.conflicts} failed={r.item_errors}"
        )
    line += f" duration={seconds:.2f}s"
    return f"{line} error={run.error}" if run.error else line
