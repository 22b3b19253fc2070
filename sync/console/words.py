"""Workload states in words and in a tone the stylesheet colours — pure.

The tone is never the only signal: the word is always shown next to the colour (colour-blind readers, screen
readers).
"""

from __future__ import annotations

from sync.operations.states import WorkloadState

WORDS = {
    WorkloadState.HEALTHY: "Healthy",
    WorkloadState.FAILING: "Failing",
    WorkloadState.DISABLED: "Disabled",
    WorkloadState.NOT_TESTED: "Not tested",
    WorkloadState.INACTIVE: "Inactive",
    WorkloadState.NOT_USED: "Not used",
}
TONES = {
    WorkloadState.HEALTHY: "good",
    WorkloadState.FAILING: "bad",
    WorkloadState.DISABLED: "bad",
    WorkloadState.NOT_TESTED: "warn",
    WorkloadState.INACTIVE: "muted",
    WorkloadState.NOT_USED: "muted",
}


def state_word(state: str) -> str:
    try:
        return WORDS[WorkloadState(state)]
    except ValueError:
        return state.replace("_", " ").capitalize()


def state_tone(state: str) -> str:
    try:
        return TONES[WorkloadState(state)]
    except ValueError:
        return {"healthy": "good", "failing": "bad", "disabled": "bad", "not_tested": "warn"}.get(state, "muted")
