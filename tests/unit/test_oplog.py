"""The operational log lines: one per unit of work, none for an idle tick."""

from __future__ import annotations

from collections import Counter

from sync.act.cycle import ActReport
from sync.act.worker import ActRun
from sync.incoming.worker import CycleReport
from sync.oplog import act_cycle_line, mailbox_cycle_line, send_line, tick_line
from sync.outgoing.sender import SendReport
from sync.scheduling.scheduler import TickReport


def test_an_idle_tick_has_no_line() -> None:
    assert tick_line("scheduler tick", TickReport()) is None


def test_a_tick_that_found_work_names_its_counters() -> None:
    assert tick_line("scheduler tick", TickReport(due=2, dispatched=1, busy=1)) == (
        "scheduler tick: due=2 dispatched=1 busy=1"
    )


def test_a_mailbox_cycle_line_has_every_figure() -> None:
    report = CycleReport("mb-1", listed=5, tracked=3, not_tracked=1, quarantined=1, reasons=Counter(NoMatch=1))
    line = mailbox_cycle_line(report, 0.25)
    for part in ("mailbox=mb-1", "listed=5", "tracked=3", "not_tracked=1", "failed=1", "duration=0.25s", "NoMatch:1"):
        assert part in line


def test_a_send_line() -> None:
    line = send_line(SendReport("e-1", "sent", attempts=1), 1.5)
    assert line == "outgoing send: email=e-1 outcome=sent attempts=1 duration=1.50s"


def test_an_act_cycle_line() -> None:
    run = ActRun("mb-2", report=ActReport("mb-2", pulled=4, created_in_crm=2, updated_in_exchange=1))
    line = act_cycle_line(run, 0.5)
    assert line == (
        "ACT cycle: mailbox=mb-2 status=processed pulled=4 to_crm=2 to_exchange=1 conflicts=0 failed=0 duration=0.50s"
    )
