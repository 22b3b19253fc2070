"""ACT end to end: Test & Enable schedules it, the ACT timer and queue trigger run it (Functions handlers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.scheduling.act_scheduler import schedule_act_now
from tests.integration.act.remote import ActRemote, EwsRemote, GraphRemote
from tests.integration.exchange.conftest import ALICE, Deployment
from tests.integration.exchange.doubles import EwsDouble, GraphDouble

pytestmark = pytest.mark.integration


def test_an_appointment_reaches_outlook_and_an_outlook_edit_comes_back(deployment: Deployment) -> None:
    """Through EWS (Exchange Server) and through Microsoft Graph (a default Exchange Online profile)."""
    server = deployment.server
    assert isinstance(server, EwsDouble | GraphDouble)
    remote: ActRemote = EwsRemote(server.server) if isinstance(server, EwsDouble) else GraphRemote(server.server)
    mailbox = deployment.act_mailbox(ALICE)
    assert mailbox.act_due_row_key is not None  # on the ACT schedule

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    meeting = deployment.meeting(mailbox, "Quarterly review", start)

    deployment.run()  # the ACT timer claims the mailbox; the act-work trigger runs its cycle

    [item] = remote.items("calendar")
    assert item.subject == "Quarterly review"
    [cycle] = deployment.store.cycle_history.recent(mailbox.id, "act")  # the ACT worker keeps its history too
    assert (cycle.workload, cycle.outcome, cycle.tracked, cycle.failed) == ("act", "processed", 1, 0)
    remote.edit(item.item_id, subject="Quarterly review (moved)")
    schedule = deployment.store.get_mailbox(mailbox.id)
    assert schedule.act_host_id is None and (schedule.next_scheduled_act_sync_seconds or 0) >= 5 * 60  # N-4

    schedule_act_now(deployment.store, mailbox.id)
    deployment.run()

    assert deployment.store.appointments.get(meeting.id, "record").subject == "Quarterly review (moved)"
