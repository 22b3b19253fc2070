"""Retries, refusals, mailbox failures, eligibility and send-later, against real aiosmtpd servers.

Steps that the queue would deliver minutes later get the message directly (``OutgoingWork`` with the
email id), with the clock moved forward as far as the back-off says.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.storage.queue import QueueMessage

from devstack.ports import free_port
from sync.model import Email
from sync.model.email import RecipientStatus
from sync.model.options import EmailAddressApproval, EmailStatus
from sync.outgoing import alerts
from sync.outgoing.messages import OutboxQueue, OutgoingWork
from sync.outgoing.sender import OutgoingSender
from tests.integration.outgoing.conftest import Clock, Outbox, TickingClock

pytestmark = pytest.mark.integration


def _again(outbox: Outbox, sender: OutgoingSender, email: Email, **delta: float) -> str:
    """The email's message, ``delta`` later (as the delayed queue message would bring it)."""
    outbox.clock.advance(**delta)
    return sender.handle(OutgoingWork(email_id=email.id)).outcome


def test_a_4xx_backs_off_and_the_email_goes_out_later(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    outbox.scripted.script.rcpt["carol@fabrikam.test"] = ["451 4.2.1 Mailbox busy, try later"]
    email = outbox.submit(user, outbox.carol)
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["retry"]
    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts) == (EmailStatus.PENDING_SEND, 1)
    assert stored.postpone_email_processing_until == outbox.clock.now + timedelta(minutes=5)
    assert [(r.status, r.code) for r in stored.recipient_results] == [(RecipientStatus.REFUSED_TRANSIENT, 451)]
    assert outbox.receive() == []  # the retry message waits five minutes
    assert _again(outbox, sender, email, minutes=1) == "early"  # a duplicate before its time does nothing
    assert _again(outbox, sender, email, minutes=4) == "sent"
    assert (outbox.get(email).delivery_attempts, outbox.scripted.count(email.message_id or "")) == (2, 1)


class _ReceiptsQueue(OutboxQueue):
    """The real queue; each put also keeps the queue's receipt and what the test clock read then."""

    def __init__(self, outbox: Outbox) -> None:
        super().__init__(outbox.queue.client)
        self.clock: Clock = outbox.clock
        self.puts: list[tuple[str, timedelta, QueueMessage]] = []

    def put(self, work: OutgoingWork, delay: timedelta = timedelta(0)) -> QueueMessage:
        receipt = super().put(work, delay)
        self.puts.append((work.email_id, delay, receipt))
        return receipt


def _invisible_for(receipt: QueueMessage) -> timedelta:
    assert receipt.next_visible_on is not None and receipt.inserted_on is not None
    return receipt.next_visible_on - receipt.inserted_on


def test_a_deferred_email_is_never_visible_before_its_time_and_an_early_one_is_put_back(outbox: Outbox) -> None:
    outbox.clock = TickingClock(timedelta(milliseconds=370))  # readings a fraction of a second apart
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    outbox.scripted.script.rcpt["carol@fabrikam.test"] = ["451 4.2.1 Mailbox busy, try later"]
    email = outbox.submit(user, outbox.carol)
    queue = _ReceiptsQueue(outbox)
    sender = outbox.sender(queue=queue)
    assert [r.outcome for r in outbox.drain(sender)] == ["retry"]
    due = outbox.get(email).postpone_email_processing_until
    assert due is not None
    (email_id, delay, receipt) = queue.puts[-1]
    assert email_id == email.id and delay.microseconds != 0  # the wait is not whole seconds
    assert _invisible_for(receipt) >= delay  # rounded up: it cannot arrive before the back-off ends

    outbox.clock.now = due - timedelta(milliseconds=500)  # it arrives early all the same (another clock)
    assert sender.handle(OutgoingWork(email_id=email.id)).outcome == "early"
    (email_id, delay, receipt) = queue.puts[-1]
    assert email_id == email.id and timedelta(0) < delay <= timedelta(seconds=1)  # put back for the rest
    assert _invisible_for(receipt) == timedelta(seconds=1)
    outbox.clock.now = due
    assert sender.handle(OutgoingWork(email_id=email.id)).outcome == "sent"
    assert outbox.scripted.count(email.message_id or "") == 1


def test_back_off_5_15_30_60_then_failed_with_an_alert(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    outbox.scripted.script.always_rcpt["carol@fabrikam.test"] = "450 4.2.0 Mailbox temporarily unavailable"
    email = outbox.submit(user, outbox.carol)
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["retry"]
    waits = []
    for _ in range(4):
        stored = outbox.get(email)
        assert stored.postpone_email_processing_until is not None
        wait = stored.postpone_email_processing_until - outbox.clock.now
        waits.append(int(wait.total_seconds() // 60))
        outcome = _again(outbox, sender, email, seconds=wait.total_seconds())
    assert waits == [5, 15, 30, 60] and outcome == "failed"
    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts) == (EmailStatus.FAILED, 5)
    assert "after 5 attempts" in outbox.alerts(email.id)[alerts.CODE_EMAIL_FAILED]
    assert outbox.scripted.count(email.message_id or "") == 0


def test_5xx_is_final_for_that_recipient_and_accepted_recipients_never_get_it_again(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    script = outbox.scripted.script
    script.always_rcpt["gone@fabrikam.test"] = "550 5.1.1 No such user"
    script.rcpt["busy@fabrikam.test"] = ["452 4.2.2 Mailbox full"]
    email = outbox.submit(user, "ok@fabrikam.test", "gone@fabrikam.test", "busy@fabrikam.test")
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["retry"]
    assert _again(outbox, sender, email, minutes=5) == "sent"

    first, second = outbox.scripted.by_message_id(email.message_id or "")
    assert first.rcpt_tos == ("ok@fabrikam.test",)
    assert second.rcpt_tos == ("busy@fabrikam.test",)  # neither the accepted nor the refused one again
    stored = outbox.get(email)
    assert {r.address: (r.status, r.attempt) for r in stored.recipient_results} == {
        "ok@fabrikam.test": (RecipientStatus.ACCEPTED, 1),
        "gone@fabrikam.test": (RecipientStatus.REFUSED_PERMANENT, 1),
        "busy@fabrikam.test": (RecipientStatus.ACCEPTED, 2),
    }
    assert stored.status is EmailStatus.SENT
    partial = outbox.alerts(email.id)[alerts.CODE_EMAIL_PARTIALLY_DELIVERED]
    assert "gone@fabrikam.test" in partial and "does not exist" in partial


def test_each_recipient_keeps_the_server_words_accepted_as_accepted_refused_as_refused(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol, "nobody@reject.test")
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]
    replies = {r.address: (r.code, r.reply) for r in outbox.get(email).recipient_results}
    assert replies == {
        "carol@fabrikam.test": (250, "accepted (250 2.0.0 Message accepted)"),
        "nobody@reject.test": (550, "the mailbox does not exist (550 5.1.1 <nobody@reject.test>: mailbox unavailable)"),
    }


def test_every_recipient_refused_fails_at_once(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, "nobody@reject.test")
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["failed"]
    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts) == (EmailStatus.FAILED, 1)
    assert "nobody@reject.test" in outbox.alerts(email.id)[alerts.CODE_EMAIL_FAILED]


def test_a_refused_message_fails_and_a_busy_server_retries(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    outbox.scripted.script.data = ["451 4.3.0 Try again", "554 5.6.0 Message content rejected"]
    email = outbox.submit(user, outbox.carol)
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["retry"]
    assert _again(outbox, sender, email, minutes=5) == "failed"
    assert outbox.get(email).recipient_results[0].code == 554


def test_refused_credentials_raise_the_mailbox_alert_and_the_email_waits(outbox: Outbox) -> None:
    user, mailbox = outbox.mailbox(password="wrong-password")
    email = outbox.submit(user, outbox.carol)
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["deferred"]
    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts) == (EmailStatus.PENDING_SEND, 0)
    alert = outbox.alerts(mailbox.id)[alerts.CODE_OUTGOING_AUTH]
    assert "OutgoingEmailAuthenticationError" in alert and "has been disabled for sending email" in alert
    assert outbox.store.get_mailbox(mailbox.id).enabled_for_outgoing is False  # R-ERR-2
    assert _again(outbox, sender, email, minutes=5) == "ineligible"  # stays Pending Send until fixed
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 0


def test_a_server_that_cannot_be_reached_is_transient_for_the_mailbox(outbox: Outbox) -> None:
    profile = outbox.profile.model_copy(update={"id": "down-" + outbox.profile.id[:20], "outgoing_port": free_port()})
    outbox.store.profiles.upsert(profile)
    user, mailbox = outbox.mailbox(profile=profile)
    email = outbox.submit(user, outbox.carol)
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["deferred"]
    alert = outbox.alerts(mailbox.id)[alerts.CODE_OUTGOING_TRANSIENT]
    assert "The system will try to send email again later." in alert
    stored_mailbox = outbox.store.get_mailbox(mailbox.id)
    assert stored_mailbox.enabled_for_outgoing and stored_mailbox.postpone_sending_until is not None
    assert outbox.get(email).delivery_attempts == 0


def test_an_ineligible_mailbox_keeps_the_email_pending_with_an_alert_until_it_is_approved(outbox: Outbox) -> None:
    user, mailbox = outbox.mailbox(approved=False)
    email = outbox.submit(user, outbox.carol)
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["ineligible"]
    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts) == (EmailStatus.PENDING_SEND, 0)  # R-OUT-3: not Failed
    assert "its email address is not approved" in outbox.alerts(mailbox.id)[alerts.CODE_OUTGOING_NOT_ELIGIBLE]

    def approve(m: object) -> None:
        m.approval = EmailAddressApproval.APPROVED  # type: ignore[attr-defined]

    outbox.store.mailboxes.modify(mailbox.id, "mailbox", approve)
    assert _again(outbox, sender, email, minutes=5) == "sent"
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1


def test_send_later_is_not_sent_before_its_time(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol, send_later=outbox.clock.now + timedelta(hours=1))
    assert outbox.receive() == []  # the message becomes visible at the send-later time
    sender = outbox.sender()
    assert _again(outbox, sender, email, minutes=30) == "scheduled"  # early, e.g. a duplicate: put back
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 0
    assert _again(outbox, sender, email, minutes=30) == "sent"
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1


def test_r_out_9_transient_send_failures_disable_sending_after_the_limit(outbox: Outbox) -> None:
    profile = outbox.profile.model_copy(update={"id": "gone-" + outbox.profile.id[:20], "outgoing_port": free_port()})
    outbox.store.profiles.upsert(profile)
    user, mailbox = outbox.mailbox(profile=profile)
    email = outbox.submit(user, outbox.carol)
    sender = outbox.sender()
    limit = outbox.settings.transient_retry_limit
    assert [r.outcome for r in outbox.drain(sender)] == ["deferred"]
    for attempt in range(2, limit):
        assert _again(outbox, sender, email, minutes=5) == "deferred", attempt
        stored = outbox.store.get_mailbox(mailbox.id)
        assert (stored.outgoing_transient_failure_count, stored.enabled_for_outgoing) == (attempt, True)
    assert alerts.CODE_OUTGOING_PERMANENT not in outbox.alerts(mailbox.id)
    assert _again(outbox, sender, email, minutes=5) == "deferred"  # the tenth failure in a row: treated as permanent
    stored = outbox.store.get_mailbox(mailbox.id)
    assert (stored.outgoing_transient_failure_count, stored.enabled_for_outgoing) == (limit, False)
    assert "has been disabled for sending email" in outbox.alerts(mailbox.id)[alerts.CODE_OUTGOING_PERMANENT]
    assert _again(outbox, sender, email, minutes=5) == "ineligible"  # no more tries every 5 minutes
    assert outbox.get(email).status is EmailStatus.PENDING_SEND  # kept for when the mailbox is enabled again


def test_r_out_9_a_send_that_reaches_the_server_ends_the_transient_failures_in_a_row(outbox: Outbox) -> None:
    user, mailbox = outbox.mailbox()

    def failed_before(m: object) -> None:
        m.outgoing_transient_failure_count = 3  # type: ignore[attr-defined]

    outbox.store.mailboxes.modify(mailbox.id, "mailbox", failed_before)
    email = outbox.submit(user, outbox.carol)
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]
    assert outbox.smtp.count_by_message_id(outbox.get(email).message_id or "") == 1
    assert outbox.store.get_mailbox(mailbox.id).outgoing_transient_failure_count == 0
