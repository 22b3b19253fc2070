"""Never twice: duplicate messages, concurrent senders, and a crash at each step, against servers that count.

Each test ends by counting the deliveries of the email's Message-ID at the SMTP server. The two tests
where the process dies after the claim show the residual window of docs/outgoing.md: the email ends
Failed with a DeliveryStatusUnknown alert — delivered once in one case, not at all in the other —
and is never resent automatically.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import timedelta

import pytest

from sync.model.email import RecipientStatus
from sync.model.options import EmailStatus
from sync.outgoing import alerts
from sync.outgoing.messages import OutgoingWork
from sync.outgoing.port import BeforeData, Envelope, OutgoingSession, SmtpEndpoint, Transmission
from sync.outgoing.replies import SmtpReply
from sync.outgoing.smtp import SmtpConnector
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=13)  # past the claim's lease (function timeout + 2 minutes)
PAST_THE_GRACE = timedelta(minutes=16)  # past the lease and the sweep's grace


class Killed(BaseException):
    """Stands in for the process dying: nothing after the raise runs, nothing catches it."""


class Dying:
    """A connector whose sessions die at one step of a transmission (``when``)."""

    def __init__(self, when: str) -> None:
        self.when = when
        self.inner = SmtpConnector()

    def open(self, endpoint: SmtpEndpoint) -> OutgoingSession:
        return _DyingSession(self.inner.open(endpoint), self.when)


class _DyingSession:
    def __init__(self, inner: OutgoingSession, when: str) -> None:
        self.inner = inner
        self.when = when

    @property
    def usable(self) -> bool:
        return self.inner.usable

    def close(self) -> None:
        self.inner.close()

    def transmit(self, envelope: Envelope, before_data: BeforeData) -> Transmission:
        def step(rcpt: Mapping[str, SmtpReply]) -> bool:
            if self.when == "before claim":
                raise Killed
            claimed = before_data(rcpt)
            if self.when == "after claim":
                raise Killed
            return claimed

        sent = self.inner.transmit(envelope, step)
        if self.when == "after accept" and sent.delivered:
            raise Killed
        return sent


def _die(handle: Callable[[], object]) -> None:
    with pytest.raises(Killed):
        handle()


def test_the_same_message_delivered_twice_sends_once(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    sender = outbox.sender()
    assert sender.handle(work).outcome == "sent"
    assert sender.handle(work).outcome == "done"  # a stale snapshot: the claim fails before DATA
    assert outbox.sender().handle(OutgoingWork(email_id=email.id)).outcome == "done"  # id only (from the sweep)
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1
    assert outbox.get(email).delivery_attempts == 1


def test_concurrent_senders_send_once(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    senders = [outbox.sender() for _ in range(6)]  # six instances got the message (or its duplicates)
    start = threading.Barrier(len(senders))
    outcomes: list[str] = []

    def run(n: int) -> None:
        start.wait()
        outcomes.append(senders[n].handle(work).outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(senders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("sent") == 1 and set(outcomes) <= {"sent", "done", "busy"}
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1
    assert outbox.get(email).delivery_attempts == 1


def test_a_crash_before_the_claim_sends_once_when_the_message_comes_back(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    _die(lambda: outbox.sender(Dying("before claim")).handle(work))
    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts) == (EmailStatus.PENDING_SEND, 0)  # nothing handed over
    assert outbox.sender().handle(work).outcome == "sent"  # the host delivers the message again
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1


def test_a_crash_after_the_server_accepted_never_sends_again(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    _die(lambda: outbox.sender(Dying("after accept")).handle(work))
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1
    assert outbox.get(email).status is EmailStatus.SENDING  # Sent was never recorded

    healthy = outbox.sender()
    assert healthy.handle(work).outcome == "busy"  # the host redelivers: the live claim holds it
    assert outbox.sweep(healthy).run().waiting == 0  # not due yet: checked after the grace
    outbox.clock.advance(seconds=PAST_THE_GRACE.total_seconds())
    report = outbox.sweep(healthy).run()
    assert (report.expired, report.requeued) == (1, 0)

    stored = outbox.get(email)
    assert stored.status is EmailStatus.FAILED
    assert [r.status for r in stored.recipient_results] == [RecipientStatus.UNKNOWN]
    assert alerts.CODE_EMAIL_DELIVERY_UNKNOWN in outbox.alerts(email.id)
    assert healthy.handle(work).outcome == "done"
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1


def test_a_crash_between_the_claim_and_data_loses_the_email_visibly(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    _die(lambda: outbox.sender(Dying("after claim")).handle(work))
    healthy = outbox.sender()
    assert healthy.handle(work).outcome == "busy"
    outbox.clock.advance(seconds=LEASE.total_seconds())
    assert healthy.handle(OutgoingWork(email_id=email.id)).outcome == "unknown"  # a redelivery after the lease
    stored = outbox.get(email)
    assert stored.status is EmailStatus.FAILED and alerts.CODE_EMAIL_DELIVERY_UNKNOWN in outbox.alerts(email.id)
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 0  # the residual window: lost, not doubled


def test_a_lost_answer_to_the_message_is_delivery_unknown_and_not_resent(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    outbox.scripted.script.drop_after_data = 1
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    sender = outbox.sender()
    assert sender.handle(work).outcome == "unknown"
    assert sender.handle(work).outcome == "done"
    stored = outbox.get(email)
    assert stored.status is EmailStatus.FAILED and stored.delivery_attempts == 1
    assert "DeliveryStatusUnknown" in (stored.last_send_error or "")
    assert alerts.CODE_EMAIL_DELIVERY_UNKNOWN in outbox.alerts(email.id)
    assert outbox.scripted.count(email.message_id or "") == 1
    assert outbox.drain(sender) == []  # nothing was queued for a retry


class Slow:
    """A connector whose sender is still alive when its lease ends: the sweep runs before it records."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.inner = SmtpConnector()

    def open(self, endpoint: SmtpEndpoint) -> OutgoingSession:
        return _SlowSession(self.inner.open(endpoint), self.outbox)


class _SlowSession(_DyingSession):
    def __init__(self, inner: OutgoingSession, outbox: Outbox) -> None:
        super().__init__(inner, "never")
        self.outbox = outbox

    def transmit(self, envelope: Envelope, before_data: BeforeData) -> Transmission:
        sent = self.inner.transmit(envelope, before_data)
        self.outbox.clock.advance(seconds=PAST_THE_GRACE.total_seconds())
        assert self.outbox.sweep(self.outbox.sender()).run().expired == 1  # it thinks the sender died
        return sent


def test_a_sender_that_outlived_its_lease_still_records_sent(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    email = outbox.submit(user, outbox.carol)
    (work,) = outbox.receive()
    assert outbox.sender(Slow(outbox)).handle(work).outcome == "sent"
    stored = outbox.get(email)
    assert stored.status is EmailStatus.SENT
    assert [r.status for r in stored.recipient_results] == [RecipientStatus.ACCEPTED]
    assert outbox.smtp.count_by_message_id(email.message_id or "") == 1


def test_sending_a_failed_email_again_is_the_only_way_to_a_second_copy(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    outbox.scripted.script.drop_after_data = 1
    email = outbox.submit(user, outbox.carol, "ok@fabrikam.test")
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["unknown"]
    resent = outbox.emails().send(email.id)  # an administrator decides to send it again
    assert (resent.status, resent.delivery_attempts, resent.message_id) == (
        EmailStatus.PENDING_SEND,
        0,
        email.message_id,
    )
    assert [r.outcome for r in outbox.drain(sender)] == ["sent"]
    assert outbox.scripted.count(email.message_id or "") == 2  # same Message-ID: receiving servers may merge them
