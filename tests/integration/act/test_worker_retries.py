"""ACT's transient failures follow R-ERR-3: retried 5 minutes apart, then ACT is disabled with its alert.

The mailbox's profile points at a port nothing listens on (a deterministic connection failure); the worker and
the ACT scheduler run on Azurite with an injected clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from devstack.ports import free_port
from sync.act.worker import ActWorker
from sync.health.alerts import CODE_ACT_DISABLED, CODE_ACT_TRANSIENT
from sync.model.fields import utcnow
from sync.scheduling.act_scheduler import ActScheduler
from sync.settings import Settings
from tests.integration.act.conftest import ActWorld


def _run_at(act: ActWorld, settings: Settings, now: datetime) -> str:
    mailbox = act.store.get_mailbox(act.mailbox.id)
    item = ActScheduler(act.store, settings, lambda _: None, clock=lambda: now).claim(mailbox, now)
    return ActWorker(act.store, settings, act.connector, clock=lambda: now).run(item).status


def _alert_codes(act: ActWorld) -> set[int]:
    return {a.code for a in act.store.alerts.partition(act.mailbox.id)}


def test_r_err_3_act_transient_failures_disable_act_after_the_limit(act: ActWorld, settings: Settings) -> None:
    dead = act.profile.model_copy(
        update={
            "id": "dead-" + act.profile.id[:20],
            "incoming_server_location": f"https://127.0.0.1:{free_port()}/EWS/Exchange.asmx",
        }
    )
    act.store.profiles.upsert(dead)

    def use_dead(m: object) -> None:
        m.email_server_profile_id = dead.id  # type: ignore[attr-defined]

    act.store.mailboxes.modify(act.mailbox.id, "mailbox", use_dead)
    limit, minutes = settings.transient_retry_limit, settings.transient_retry_minutes
    start = utcnow()
    for attempt in range(1, limit):
        assert _run_at(act, settings, start + timedelta(minutes=minutes * attempt)) == "failed", attempt
        stored = act.store.get_mailbox(act.mailbox.id)
        assert (stored.act_transient_failure_count, stored.enabled_for_act) == (attempt, True)
    assert _alert_codes(act) == {CODE_ACT_TRANSIENT}
    assert _run_at(act, settings, start + timedelta(minutes=minutes * limit)) == "disabled"
    stored = act.store.get_mailbox(act.mailbox.id)
    assert (stored.act_transient_failure_count, stored.enabled_for_act, stored.act_due_row_key) == (limit, False, None)
    assert CODE_ACT_DISABLED in _alert_codes(act)


def test_r_err_3_an_act_cycle_that_succeeds_ends_the_transient_failures_in_a_row(
    act: ActWorld, settings: Settings
) -> None:
    def failed_before(m: object) -> None:
        m.act_transient_failure_count = 3  # type: ignore[attr-defined]

    act.store.mailboxes.modify(act.mailbox.id, "mailbox", failed_before)
    assert _run_at(act, settings, utcnow()) == "processed"
    assert act.store.get_mailbox(act.mailbox.id).act_transient_failure_count == 0
