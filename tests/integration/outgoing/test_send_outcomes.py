"""The outbox sweep counts the send outcomes it confirms into the organization's totals (the dashboard's series)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.model.fields import utcnow
from sync.store.sync_totals import Totals
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration

GRACE_AND_A_BIT = 16  # minutes: the sweep looks at an email 15 minutes after it should have been handled


def sent_so_far(outbox: Outbox) -> Totals:
    """Every bucket around now: the emails' outcome is written at the real time (the store stamps it)."""
    now = utcnow()
    found = Totals()
    for totals in outbox.store.sync_totals.between(now - timedelta(hours=2), now + timedelta(hours=2)).values():
        found.add(totals)
    return found


def test_the_sweep_counts_each_sent_and_failed_email_once(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    for n in range(3):
        outbox.submit(user, outbox.carol, subject=f"Counted {n}")
    outbox.submit(user, "nobody@reject.test", subject="Refused")  # the test server refuses every recipient
    sender = outbox.sender()
    assert sorted(r.outcome for r in outbox.drain(sender)) == ["failed", "sent", "sent", "sent"]
    before = sent_so_far(outbox)
    outbox.clock.advance(minutes=GRACE_AND_A_BIT)
    assert outbox.sweep(sender).run().removed == 4
    outbox.clock.advance(minutes=GRACE_AND_A_BIT)
    assert outbox.sweep(sender).run().removed == 0  # removed from the index: never counted again
    after = sent_so_far(outbox)
    assert (after.sent - before.sent, after.send_failed - before.send_failed) == (3, 1)
