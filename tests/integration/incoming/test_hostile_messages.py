"""Crafted messages between good ones: real Dovecot (IMAP), real Azurite, the real worker.

A message that hits a hard parse limit is a quarantined item failure with the limit as its reason; the
messages around it are tracked, the watermark passes it, and the cycle ends normally (it never runs to
the function timeout to start over on the same message).
"""

from __future__ import annotations

import pytest

from bench import hostile_messages as hostile
from sync.incoming.replay import replay_quarantine
from sync.incoming.worker import MailboxWorker
from sync.model.options import FilteringMethod
from sync.services import incoming_connectors
from tests.integration.incoming.conftest import World, message

pytestmark = pytest.mark.integration

CRAFTED = {
    "rfc2231": (hostile.rfc2231_continuations(200_000), "Content-Disposition header of"),
    "parts": (hostile.many_parts(5_000), "more than 1000 MIME parts"),
}


@pytest.mark.parametrize("crafted", CRAFTED)
def test_a_crafted_message_between_good_ones_is_an_item_failure(world: World, crafted: str) -> None:
    raw, reason = CRAFTED[crafted]
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    first, first_mid = message(address, subject="before")
    last, last_mid = message(address, subject="after")
    for one in (first, raw, last):
        world.server.deliver(address, one)
    # The hard limit must decide, not the parse deadline of a loaded machine (the deadline has its own test).
    patient = world.settings.model_copy(update={"mime_parse_timeout_seconds": 3600.0})

    report = world.cycle(mailbox, MailboxWorker(world.store, patient, world.box, incoming_connectors()))

    assert (report.status, report.tracked, report.quarantined, report.more_pending) == ("processed", 2, 1, False)
    assert (world.emails_with_message_id(f"<{first_mid}>"), world.emails_with_message_id(f"<{last_mid}>")) == (1, 1)
    (failure,) = list(world.store.item_failures.partition(mailbox.id))
    assert (failure.reason, reason in (failure.details or ""), failure.quarantine_blob is not None) == (
        "Quarantined",
        True,
        True,
    )
    assert world.store.get_mailbox(mailbox.id).watermarks["INBOX"].last_uid == 3


def test_a_quarantined_crafted_message_stays_quarantined_on_replay(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", CRAFTED["parts"][0])
    world.cycle(mailbox)
    results = replay_quarantine(world.store, world.settings, mailbox.id)
    assert [(r.released, "more than 1000 MIME parts" in r.outcome) for r in results] == [(False, True)]


def test_a_message_over_the_parse_deadline_is_an_item_failure_and_the_cycle_ends(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    world.server.deliver(mailbox.email_address or "", hostile.many_parts(800))  # within every cap
    instant = world.settings.model_copy(update={"mime_parse_timeout_seconds": 1e-9})  # expired at the first check

    report = world.cycle(mailbox, MailboxWorker(world.store, instant, world.box, incoming_connectors()))

    assert (report.status, report.quarantined, report.more_pending) == ("processed", 1, False)
    (failure,) = list(world.store.item_failures.partition(mailbox.id))
    assert "parse timeout after 1e-09 s" in (failure.details or "")
