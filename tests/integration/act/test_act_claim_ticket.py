"""The ACT worker leaves a claim ticket in the mailbox's next ACT due row, so the next ACT claim is one merge
(real Azurite, the EWS test server, the real ACT cycle)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.act.organization_id import organization_id
from sync.act.worker import ActWorker
from sync.model import Mailbox
from sync.scheduling import ticket
from sync.scheduling.act_scheduler import ActScheduler, schedule_act_now
from sync.scheduling.work import WorkItem
from sync.settings import Settings
from tests.integration.act.conftest import ActWorld

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_act_worker_leaves_a_ticket_and_a_change_voids_it(act: ActWorld, settings: Settings) -> None:
    clock = [NOW]
    sent: list[WorkItem] = []
    scheduler = ActScheduler(act.store, settings, sent.append, clock=lambda: clock[0])
    worker = ActWorker(act.store, settings, act.connector, clock=lambda: clock[0])
    organization_id(act.store)  # as in any deployment that ran ACT before: not created by (and during) this cycle
    schedule_act_now(act.store, act.mailbox.id, NOW - timedelta(minutes=1))

    def cycle(at: datetime) -> tuple[int, int]:
        """Claim what is due at ``at`` and run its ACT cycle; (claimed, of which by ticket)."""
        clock[0] = at
        report = scheduler.tick()
        assert report.dispatched == 1 and sent[-1].mailbox_id == act.mailbox.id
        assert worker.run(sent[-1]).status == "processed"
        return report.dispatched, report.by_ticket

    assert cycle(NOW) == (1, 0)  # put on the schedule by schedule_act_now: no ticket, the mailbox is read
    released = act.store.get_mailbox(act.mailbox.id)
    index = act.store.act_due_index
    [row] = list(index.due_in(index.shard(act.mailbox.id), NOW + timedelta(days=1)))
    left = ticket.read(row.properties or {})
    assert row.row_key == released.act_due_row_key and left is not None
    assert (left.mailbox_etag, left.profile_id) == (released.etag, act.profile.id)

    assert cycle(NOW + timedelta(minutes=20)) == (1, 1)  # the ticket held: one merge, no read

    def incoming_cycle_wrote(m: Mailbox) -> None:  # any other write to the row (an incoming cycle's release)
        m.no_email_count += 1

    act.store.mailboxes.modify(act.mailbox.id, "mailbox", incoming_cycle_wrote)
    assert cycle(NOW + timedelta(minutes=40)) == (1, 0)  # the ticket is void: the claim read the mailbox
