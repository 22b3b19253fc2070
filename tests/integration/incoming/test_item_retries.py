"""A message whose processing fails is tried again in later cycles, then quarantined (R-REC-9, R-ERR-8, R-SCH-15).

The failure is a deterministic fault in the pipeline (the email builder raises for one subject a given number of
times); the cycles run against Dovecot or Mailutils and Azurite with an injected clock, 15 minutes apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from sync.health.item_retries import ITEM_RETRIES, ITEM_RETRY_MINUTES
from sync.incoming.processor import IncomingProcessor
from sync.incoming.worker import STOPPED, CycleReport
from sync.model import ItemFailure, Mailbox
from sync.model.fields import utcnow
from sync.model.options import AlertLevel, FilteringMethod
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.work import WorkItem
from tests.integration.incoming.conftest import Killed, World, dying_process, message
from tests.integration.incoming.test_worker import _inbox_count

FLAKY = "fails for a while"


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """``failing[0]`` more tries of the FLAKY message fail; the others are processed as usual."""
    left = [0]
    original = IncomingProcessor._build_email

    def build(self: IncomingProcessor, parsed: object, *args: object) -> object:
        if getattr(parsed, "subject", "") == FLAKY and left[0] > 0:
            left[0] -= 1
            raise RuntimeError("a plug-in failed")
        return original(self, parsed, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(IncomingProcessor, "_build_email", build)
    yield left


def _cycle_at(world: World, mailbox: Mailbox, now: datetime) -> CycleReport:
    worker = world.worker(clock=lambda: now)
    return worker.run(world.claim(mailbox, now))


def _failures(world: World, mailbox_id: str) -> list[ItemFailure]:
    return list(world.store.item_failures.partition(mailbox_id))


def _deliver_flaky_then_fine(world: World, mailbox: Mailbox) -> tuple[str, str]:
    address = mailbox.email_address or ""
    flaky, flaky_mid = message(address, subject=FLAKY)
    fine, fine_mid = message(address, subject="fine")
    world.server.deliver(address, flaky)
    world.server.deliver(address, fine)
    return f"<{flaky_mid}>", f"<{fine_mid}>"


def test_r_rec_9_an_item_failing_four_times_then_succeeding_is_tracked_once(world: World, failing: list[int]) -> None:
    failing[0] = 4
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    flaky, fine = _deliver_flaky_then_fine(world, mailbox)
    start = utcnow()
    first = _cycle_at(world, mailbox, start)
    assert (first.tracked, first.quarantined, first.reasons["RetryPending"]) == (1, 0, 1)
    assert world.emails_with_message_id(fine) == 1  # the failing message does not hold up the one after it
    (waiting,) = _failures(world, mailbox.id)
    assert (waiting.reason, waiting.attempts) == ("RetryPending", 1)
    assert waiting.retry_on == start + timedelta(minutes=ITEM_RETRY_MINUTES)
    assert world.store.get_mailbox(mailbox.id).item_retries_due_on == waiting.retry_on
    early = _cycle_at(world, mailbox, start + timedelta(minutes=5))  # not due yet: left alone
    assert (early.retried, early.listed) == (0, 0)
    for n in range(1, 4):
        again = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES * n))
        assert (again.retried, again.tracked, again.listed) == (1, 0, 0), n
        (waiting,) = _failures(world, mailbox.id)
        assert waiting.attempts == n + 1
    last = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES * 4))
    assert (last.retried, last.tracked) == (1, 1)
    assert world.emails_with_message_id(flaky) == 1
    assert _failures(world, mailbox.id) == []
    assert world.store.get_mailbox(mailbox.id).item_retries_due_on is None
    later = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES * 9))
    assert (later.retried, later.listed, later.tracked) == (0, 0, 0)
    assert world.emails_with_message_id(flaky) == 1


def test_r_rec_9_an_item_failing_six_times_is_quarantined_after_the_last_try(world: World, failing: list[int]) -> None:
    failing[0] = 1_000
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    flaky, _ = _deliver_flaky_then_fine(world, mailbox)
    start = utcnow()
    assert _cycle_at(world, mailbox, start).reasons["RetryPending"] == 1
    for n in range(1, ITEM_RETRIES):
        report = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES * n))
        assert (report.retried, report.quarantined) == (1, 0), n
    last = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES * ITEM_RETRIES))
    assert (last.retried, last.quarantined) == (1, 1)  # the sixth try, about 75 minutes after the first
    (quarantined,) = _failures(world, mailbox.id)
    assert (quarantined.reason, quarantined.attempts, quarantined.retry_on) == ("Quarantined", 6, None)
    assert quarantined.details is not None and "a plug-in failed" in quarantined.details
    assert quarantined.subject == FLAKY and quarantined.quarantine_blob
    assert world.store.get_mailbox(mailbox.id).item_retries_due_on is None
    after = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES * (ITEM_RETRIES + 4)))
    assert (after.retried, after.quarantined) == (0, 0)  # no more tries
    assert world.emails_with_message_id(flaky) == 0
    assert failing[0] == 1_000 - 6


def _after_the_tick(world: World, mailbox: Mailbox, now: datetime) -> WorkItem:
    """The work item the scheduler's tick sends for ``mailbox`` at ``now`` (breaking an expired lease)."""
    sent: list[WorkItem] = []
    Scheduler(world.store, world.settings, sent.append, clock=lambda: now).tick()
    (item,) = [i for i in sent if i.mailbox_id == mailbox.id]
    return item


def test_r_rec_9_a_message_that_stops_its_cycle_is_found_by_the_next_and_tried_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    killer, fine = _deliver_flaky_then_fine(world, mailbox)
    deaths = [2]
    original = IncomingProcessor._build_email

    def build(self: IncomingProcessor, parsed: object, *args: object) -> object:
        if getattr(parsed, "subject", "") == FLAKY and deaths[0] > 0:
            deaths[0] -= 1
            raise Killed  # the function timed out on this message: nothing after it runs
        return original(self, parsed, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(IncomingProcessor, "_build_email", build)
    start = utcnow()
    with monkeypatch.context() as patch, dying_process(world, patch), pytest.raises(Killed):
        _cycle_at(world, mailbox, start)  # nothing names the message yet: the death is only seen by its lease
    first_retake = start + timedelta(hours=1)
    item = _after_the_tick(world, mailbox, first_retake)
    with monkeypatch.context() as patch, dying_process(world, patch), pytest.raises(Killed):
        world.worker(clock=lambda: first_retake).run(item)  # after a dead cycle: each message is named first
    marker = world.store.get_mailbox(mailbox.id).in_progress
    assert marker is not None and marker.blob is not None and marker.after is not None
    second_retake = start + timedelta(hours=2)
    found = world.worker(clock=lambda: second_retake).run(_after_the_tick(world, mailbox, second_retake))
    assert (found.reasons["RetryPending"], found.tracked) == (1, 1)  # counted as a failed try; the next one goes on
    assert world.emails_with_message_id(fine) == 1 and world.emails_with_message_id(killer) == 0
    (waiting,) = _failures(world, mailbox.id)
    assert (waiting.reason, waiting.attempts, waiting.details) == ("RetryPending", 1, STOPPED)
    stored = world.store.get_mailbox(mailbox.id)
    assert stored.in_progress is None and stored.item_retries_due_on == waiting.retry_on
    retried = _cycle_at(world, mailbox, second_retake + timedelta(minutes=ITEM_RETRY_MINUTES))
    assert (retried.retried, retried.tracked, retried.listed) == (1, 1, 0)  # tried from its kept bytes, not fetched
    assert world.emails_with_message_id(killer) == 1 and world.emails_with_message_id(fine) == 1
    assert _failures(world, mailbox.id) == []


def test_r_in_14_a_message_without_a_valid_sender_raises_an_information_alert(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    clutter = f"To: {address}\r\nSubject: Clutter notice\r\nMessage-ID: <clutter-{mailbox.id}@outlook.test>\r\n\r\n"
    world.server.deliver(address, clutter.encode())
    report = world.cycle(mailbox)
    assert (report.reasons["InvalidSender"], report.retried) == (1, 0)  # the same bytes would fail again: no retry
    (failure,) = _failures(world, mailbox.id)
    assert failure.reason == "InvalidSender"
    (alert,) = list(world.store.alerts.partition(mailbox.id))
    assert (alert.level, alert.code_name) == (AlertLevel.INFORMATION, "InvalidSender")
    assert alert.text == (
        f"An error occurred while creating the incoming email Clutter notice in Microsoft Dynamics 365 for the "
        f"mailbox {mailbox.name}."
    )


def test_r_rec_9_a_retried_message_is_deleted_once_tracked_by_a_delete_after_processing_mailbox(
    world: World, failing: list[int]
) -> None:
    failing[0] = 1
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL, queue=True, delete_after=True)
    address = mailbox.email_address or ""
    flaky, _ = _deliver_flaky_then_fine(world, mailbox)
    start = utcnow()
    first = _cycle_at(world, mailbox, start)
    assert (first.deleted, first.reasons["RetryPending"]) == (1, 1)
    assert _inbox_count(world, address) == 1  # the failing message stays on the server while it waits
    again = _cycle_at(world, mailbox, start + timedelta(minutes=ITEM_RETRY_MINUTES))
    assert (again.retried, again.tracked, again.deleted) == (1, 1, 1)
    assert _inbox_count(world, address) == 0
    assert world.emails_with_message_id(flaky) == 1
