"""What a worker writes when a cycle ends: the mailbox's cycle history row and the organization's totals.

Both are statistics: a storage error here is logged and swallowed, because the cycle's own work is already
durable and retrying the whole work item for a history row would cost far more than the row is worth.
A cycle that found its lease taken (``stale``) is someone else's: nothing is recorded for it. An idle cycle
(it ended normally and found nothing new) is not recorded either: idle polls are most cycles at scale, an idle
cycle must stay at two Table transactions, and a ring flushed by idle polls would forget the cycles that
mattered within hours. The mailbox row still says when it last ran (``last_sync_started_on``) and when it runs
next; the history keeps the last 50 cycles that listed, stored, failed or did not run normally.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from azure.core.exceptions import AzureError

from sync.errors import ConcurrencyConflict
from sync.operations.cycles import CycleEntry
from sync.store.store import Store
from sync.store.sync_totals import Totals

log = logging.getLogger(__name__)

NOT_RECORDED = frozenset({"stale"})
NORMAL_OUTCOME = "processed"
FAILED_OUTCOMES = frozenset({"failed", "disabled"})


def worth_recording(entry: CycleEntry) -> bool:
    """Every cycle but a duplicate delivery's and an idle one's."""
    if entry.outcome in NOT_RECORDED:
        return False
    did_something = entry.listed or entry.tracked or entry.not_tracked or entry.failed
    return bool(did_something) or entry.outcome != NORMAL_OUTCOME


def totals_of(entry: CycleEntry) -> Totals:
    """What one cycle adds to the organization's totals; a cycle that did nothing adds nothing."""
    busy = entry.listed or entry.tracked or entry.not_tracked or entry.failed
    failed_cycle = entry.outcome in FAILED_OUTCOMES
    if entry.workload != "incoming" or not (busy or failed_cycle):
        return Totals()
    return Totals(
        cycles=1, cycles_failed=int(failed_cycle), tracked=entry.tracked, not_tracked=entry.not_tracked,
        failed=entry.failed, reasons=Counter(entry.reasons),
    )  # fmt: skip


class CycleRecorder:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, entry: CycleEntry, ended_on: datetime) -> None:
        if not worth_recording(entry):
            return
        try:
            self.store.cycle_history.record(entry)
            self.store.sync_totals.add(entry.mailbox_id, ended_on, totals_of(entry))
        except (AzureError, ConcurrencyConflict):
            log.warning("mailbox %s: the %s cycle was not recorded", entry.mailbox_id, entry.workload, exc_info=True)
