"""The outbox sweep: lost messages are enqueued again, settled emails leave the index, waiting ones wait."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.model.options import EmailStatus
from sync.store.names import Table
from sync.store.outbox import OutboxIndex
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration

GRACE_AND_A_BIT = 16  # minutes: the sweep looks at an email 15 minutes after it should have been handled


def test_a_lost_message_is_enqueued_again_and_the_email_sent_once(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    assert len(outbox.receive()) == 1  # taken off the queue and never handled: lost
    sender = outbox.sender()
    assert outbox.sweep(sender).run().checked == 0  # not due yet
    outbox.clock.advance(minutes=GRACE_AND_A_BIT)
    assert outbox.sweep(sender).run().requeued == 1
    assert [r.outcome for r in outbox.drain(sender)] == ["sent"]
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1
    outbox.clock.advance(minutes=GRACE_AND_A_BIT)
    report = outbox.sweep(sender).run()
    assert (report.checked, report.removed, report.requeued) == (1, 1, 0)
    assert outbox.sweep(sender).run().checked == 0


def test_sent_emails_leave_the_index_in_one_pass(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    emails = [outbox.submit(user, outbox.carol, subject=f"Sweep {n}") for n in range(3)]
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["sent"] * 3
    outbox.clock.advance(minutes=GRACE_AND_A_BIT)
    report = outbox.sweep(sender).run()
    assert (report.removed, report.requeued, report.expired) == (3, 0, 0)
    index = OutboxIndex(outbox.store.account.table(Table.OUTBOX))
    assert {e.email_id for e in index.due(outbox.clock.now + timedelta(days=30))}.isdisjoint(e.id for e in emails)


def test_an_email_to_send_later_is_left_waiting_until_its_time(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol, send_later=outbox.clock.now + timedelta(hours=1))
    sender = outbox.sender()
    outbox.clock.advance(minutes=GRACE_AND_A_BIT)
    assert outbox.sweep(sender).run().checked == 0  # its entry is due an hour and a grace from now
    outbox.clock.advance(hours=1)
    assert outbox.sweep(sender).run().requeued == 1  # its message never came: enqueued again
    assert [r.outcome for r in outbox.drain(sender)] == ["sent"]
    assert outbox.get(email).status is EmailStatus.SENT
