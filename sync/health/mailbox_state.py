"""A mailbox's one-word state, over the directions it uses — pure.

Each workload (incoming, outgoing, ACT) has its own word (``sync.operations.states``); the mailbox's word sums
up only the workloads it uses, the worst first, so a mailbox whose incoming email is not synchronized by this
service (delivered through a forward mailbox, say) is judged by its outgoing email and ACT alone:

- ``failing`` when any used workload is failing (an administrator has something to fix);
- ``not_tested`` when none fails but one never passed Test & Enable;
- ``inactive`` when the mailbox is deactivated, or a used workload cannot run for a reason other than its own
  switch (no profile, address not approved...);
- ``disabled`` when a used workload was switched off with no error pending, or when the mailbox uses no
  workload at all (server-side synchronization does nothing for it);
- ``healthy`` when every used workload is healthy.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from sync.operations.states import WorkloadState


class HealthState(StrEnum):
    HEALTHY = "healthy"  # every used workload tested, enabled, its last attempts fine
    FAILING = "failing"  # a used workload's errors or failed Test & Enable: something to fix
    DISABLED = "disabled"  # a used workload switched off with no error pending, or none used
    NOT_TESTED = "not_tested"  # a used workload never passed Test & Enable
    INACTIVE = "inactive"  # deactivated, or not eligible for another reason


WORST_FIRST = (  # the first of these that a used workload is in names the mailbox
    (WorkloadState.FAILING, HealthState.FAILING),
    (WorkloadState.NOT_TESTED, HealthState.NOT_TESTED),
    (WorkloadState.INACTIVE, HealthState.INACTIVE),
    (WorkloadState.DISABLED, HealthState.DISABLED),
)


def mailbox_state(states: Mapping[str, WorkloadState]) -> HealthState:
    """One word for the mailbox from its workloads' words; ``not_used`` workloads do not count."""
    used = {state for state in states.values() if state is not WorkloadState.NOT_USED}
    if not used:
        return HealthState.DISABLED
    for workload_state, word in WORST_FIRST:
        if workload_state in used:
            return word
    return HealthState.HEALTHY
