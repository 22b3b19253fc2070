"""The mailbox's one word over the workloads it uses (sync/health/mailbox_state.py)."""

from __future__ import annotations

from sync.health.mailbox_state import HealthState, mailbox_state
from sync.operations.states import WorkloadState as W


def states(incoming: W, outgoing: W, act: W = W.NOT_USED) -> dict[str, W]:
    return {"incoming": incoming, "outgoing": outgoing, "act": act}


def test_a_workload_not_used_does_not_count() -> None:
    assert mailbox_state(states(W.NOT_USED, W.HEALTHY)) is HealthState.HEALTHY


def test_any_used_workload_failing_makes_the_mailbox_failing() -> None:
    assert mailbox_state(states(W.HEALTHY, W.FAILING, W.DISABLED)) is HealthState.FAILING


def test_healthy_only_when_every_used_workload_is() -> None:
    assert mailbox_state(states(W.HEALTHY, W.HEALTHY, W.HEALTHY)) is HealthState.HEALTHY
    assert mailbox_state(states(W.HEALTHY, W.DISABLED)) is HealthState.DISABLED


def test_not_tested_comes_before_inactive_and_disabled() -> None:
    assert mailbox_state(states(W.NOT_TESTED, W.INACTIVE, W.DISABLED)) is HealthState.NOT_TESTED
    assert mailbox_state(states(W.INACTIVE, W.DISABLED)) is HealthState.INACTIVE


def test_a_mailbox_that_uses_no_workload_is_disabled() -> None:
    assert mailbox_state(states(W.NOT_USED, W.NOT_USED)) is HealthState.DISABLED
