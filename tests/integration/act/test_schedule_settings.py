"""R-SCH-7: the ACT cadence follows SYNC_ACT_POLL_MIN/MAX_MINUTES, set by the worker's release (real Azurite,
the EWS test server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.act.worker import ActWorker
from sync.scheduling.act_scheduler import ActScheduler
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from sync.store.due_index import parse_row_key
from tests.integration.act.conftest import ActWorld

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_r_sch_7_the_act_poll_settings_set_the_next_act_cycle(act: ActWorld, settings: Settings) -> None:
    own = settings.model_copy(update={"act_poll_min_minutes": 7, "act_poll_max_minutes": 10})
    act.meeting("Planning")  # the first cycle changes something: the shortest wait
    sent: list[WorkItem] = []
    scheduler = ActScheduler(act.store, own, sent.append, clock=lambda: NOW)
    worker = ActWorker(act.store, own, act.connector, clock=lambda: NOW)

    def cycle() -> int:
        before = act.store.get_mailbox(act.mailbox.id)
        scheduler.claim(before, NOW)
        assert act.store.get_mailbox(act.mailbox.id).act_due_row_key == before.act_due_row_key  # the worker moves it
        assert worker.run(sent[-1]).status == "processed"
        mailbox = act.store.get_mailbox(act.mailbox.id)
        assert mailbox.act_due_row_key is not None
        assert parse_row_key(mailbox.act_due_row_key).due_on - NOW == timedelta(
            seconds=mailbox.next_scheduled_act_sync_seconds or 0
        )
        return (mailbox.next_scheduled_act_sync_seconds or 0) // 60

    assert cycle() == 7  # changes: SYNC_ACT_POLL_MIN_MINUTES, not the built-in 5
    assert cycle() == 9  # idle: 2 more
    assert cycle() == 10  # the mailbox also receives email: SYNC_ACT_POLL_MAX_MINUTES, not the built-in 15
