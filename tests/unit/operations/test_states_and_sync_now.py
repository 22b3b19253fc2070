"""Workload states, state filters, "synchronize now" reasons and what a cycle adds to the totals — pure."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.errors import ValidationFailed
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.fields import EntityRef
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EntityType,
    OutgoingDeliveryMethod,
    ProcessingState,
    ServerType,
    TestStatus,
)
from sync.operations.cycles import CycleEntry, incoming_entry
from sync.operations.recorder import totals_of, worth_recording
from sync.operations.states import WorkloadState, parse_state, workload_states
from sync.operations.sync_now import why_not

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
PROFILE = EmailServerProfile(id="p1", name="IMAP", server_type=ServerType.IMAP_SMTP)
ORG = OrganizationSettings()


def _mailbox(**changes: Any) -> Mailbox:
    values: dict[str, object] = {
        "name": "Alice",
        "email_address": "alice@example.test",
        "owner": EntityRef(type=EntityType.SYSTEM_USER, id="o1"),
        "email_server_profile_id": "p1",
        "approval": EmailAddressApproval.APPROVED,
        "incoming_status": TestStatus.SUCCESS,
        "outgoing_status": TestStatus.SUCCESS,
        "mailbox_status": TestStatus.SUCCESS,
    }
    values.update(changes)
    return Mailbox.model_validate(values)


def _states(**changes: Any) -> dict[str, WorkloadState]:
    return workload_states(_mailbox(**changes), PROFILE, ORG, NOW)


def test_a_tested_mailbox_is_healthy_and_act_it_does_not_use_is_not_used() -> None:
    assert _states() == {"incoming": "healthy", "outgoing": "healthy", "act": "not_used"}


def test_an_incoming_error_is_failing_and_a_workload_switched_off_is_disabled() -> None:
    assert _states(last_sync_error_count=1)["incoming"] is WorkloadState.FAILING
    assert _states(enabled_for_incoming=False)["incoming"] is WorkloadState.DISABLED


def test_a_failed_test_or_an_error_that_disabled_the_workload_is_failing_not_disabled() -> None:
    assert _states(incoming_status=TestStatus.FAILURE)["incoming"] is WorkloadState.FAILING
    assert _states(enabled_for_incoming=False, last_sync_error_count=3)["incoming"] is WorkloadState.FAILING
    assert _states(outgoing_status=TestStatus.FAILURE)["outgoing"] is WorkloadState.FAILING


def test_postponed_sending_is_failing_and_an_untested_act_is_not_tested() -> None:
    assert _states(postpone_sending_until=NOW + timedelta(minutes=5))["outgoing"] is WorkloadState.FAILING
    act = _states(act_method=ActDeliveryMethod.SERVER_SIDE_SYNC)["act"]
    assert act is WorkloadState.NOT_TESTED


def test_an_unapproved_address_makes_every_used_workload_inactive() -> None:
    states = _states(approval=EmailAddressApproval.PENDING_APPROVAL)
    assert (states["incoming"], states["outgoing"]) == (WorkloadState.INACTIVE, WorkloadState.INACTIVE)


def test_outgoing_not_through_server_side_sync_is_not_used() -> None:
    assert _states(outgoing_method=OutgoingDeliveryMethod.NONE)["outgoing"] is WorkloadState.NOT_USED


def test_a_state_filter_ignores_case_and_names_the_allowed_values() -> None:
    assert parse_state(" Failing ", "query.incoming") is WorkloadState.FAILING
    with pytest.raises(ValidationFailed, match="one of: healthy, failing, disabled, not_tested, inactive, not_used"):
        parse_state("broken", "query.incoming")


def test_sync_now_overrides_the_polling_interval_but_not_an_error_backoff() -> None:
    polling = _mailbox(postpone_mailbox_processing_until=NOW + timedelta(minutes=12))
    assert why_not("incoming", polling, PROFILE, ORG, NOW) == []
    backoff = _mailbox(receiving_postponed_until=NOW + timedelta(minutes=5))
    assert why_not("incoming", backoff, PROFILE, ORG, NOW) == ["postponed"]


def test_sync_now_refuses_a_running_cycle_but_not_an_expired_lease() -> None:
    running = _mailbox(processing_state=ProcessingState.PROCESSING, lease_expires_on=NOW + timedelta(minutes=3))
    assert why_not("incoming", running, PROFILE, ORG, NOW) == ["running"]
    expired = _mailbox(processing_state=ProcessingState.PROCESSING, lease_expires_on=NOW - timedelta(minutes=1))
    assert why_not("incoming", expired, PROFILE, ORG, NOW) == []
    assert why_not("act", _mailbox(), PROFILE, ORG, NOW) == ["not_used"]


def _entry(**changes: Any) -> CycleEntry:
    values: dict[str, Any] = {"mailbox_id": "m", "started_on": NOW, "duration_ms": 5, "outcome": "processed"}
    values.update(changes)
    return incoming_entry(
        values["mailbox_id"], values["started_on"], values["duration_ms"], status=values["outcome"],
        listed=values.get("listed", 0), tracked=values.get("tracked", 0), not_tracked=values.get("not_tracked", 0),
        quarantined=values.get("failed", 0), error=values.get("error"), reasons=values.get("reasons", {}),
    )  # fmt: skip


def test_only_the_reasons_of_emails_not_tracked_are_kept() -> None:
    entry = _entry(listed=3, tracked=1, not_tracked=1, failed=1,
                   reasons={"CorrelationMatch": 1, "NoCorrelationMatch": 1, "Quarantined": 1})  # fmt: skip
    assert entry.reasons == {"NoCorrelationMatch": 1}
    totals = totals_of(entry)
    assert (totals.cycles, totals.tracked, totals.not_tracked, totals.failed) == (1, 1, 1, 1)


def test_idle_and_stale_cycles_are_not_recorded_and_a_failure_is() -> None:
    assert not worth_recording(_entry())
    assert not worth_recording(_entry(outcome="stale", listed=2))
    failed = _entry(outcome="failed", error="LoginFailed: no")
    assert worth_recording(failed) and totals_of(failed).cycles_failed == 1
    assert totals_of(_entry()).empty
