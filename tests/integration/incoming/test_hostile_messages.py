"""Crafted messages between good ones: real Dovecot (IMAP), real Azurite, the real worker.

A message that hits a hard parse limit is a quarantined item failure with the limit as its reason; the
messages around it are tracked, the watermark passes it, and the cycle ends normally (it never runs to
the function timeout to start over on the same message).
"""

from __future__ import annotations

import pytest

from bench import hostile_messages as hostile
from sync.incoming.replay import replay_quarantine
from sync.model.options import FilteringMethod
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
        world.dovecot.deliver(address, one)

    report = world.cycle(mailbox)

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
    world.dovecot.deliver(mailbox.email_address or "", CRAFTED["parts"][0])
    world.cycle(mailbox)
    results = replay_quarantine(world.store, world.settings, mailbox.id)
    assert [(r.released, "more than 1000 MIME parts" in r.outcome) for r in results] == [(False, True)]
