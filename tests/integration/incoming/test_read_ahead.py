"""The address lookups of the next messages start while the worker decides the one before (CycleDirectory).

Against the real mail servers and Azurite; the waits are on events the read-ahead must set, never on time.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any

import pytest

from sync.crm.records import RecordService
from sync.incoming.processor import IncomingProcessor
from sync.model.fields import normalize_address
from sync.model.options import EntityType, FilteringMethod
from tests.integration.incoming.conftest import World, message

pytestmark = pytest.mark.integration

PATIENCE_S = 30  # how long a decision waits for a lookup the read-ahead must start (never reached when it works)


def test_the_next_sender_is_looked_up_while_the_message_before_is_decided(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    first, second = f"first-{uuid.uuid4().hex[:8]}@fabrikam.test", f"second-{uuid.uuid4().hex[:8]}@fabrikam.test"
    world.server.deliver(address, message(address, sender=first, subject="First")[0])
    world.server.deliver(address, message(address, sender=second, subject="Second")[0])
    second_looked_up = threading.Event()
    waited: list[bool] = []
    lookups: Counter[str] = Counter()
    real_lookup, real_decide = world.store.address_index.lookup, IncomingProcessor.decide

    def lookup(key: str) -> Any:
        lookups[key] += 1
        found = real_lookup(key)
        if key == normalize_address(second):
            second_looked_up.set()
        return found

    def decide(self: IncomingProcessor, parsed: Any, *args: Any, **kwargs: Any) -> Any:
        if parsed.subject == "First":  # looked up at its own decision, the second sender could not be ready yet
            waited.append(second_looked_up.wait(PATIENCE_S))
        return real_decide(self, parsed, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(world.store.address_index, "lookup", lookup)
        patch.setattr(IncomingProcessor, "decide", decide)
        report = world.cycle(mailbox)
    assert waited == [True]
    assert report.tracked == 2
    assert lookups[normalize_address(second)] == 1  # read ahead once, then served from the cycle's cache


def test_two_messages_from_one_unknown_sender_make_one_contact(world: World) -> None:
    mailbox = world.user_mailbox(world.imap, FilteringMethod.ALL_EMAIL)
    address = mailbox.email_address or ""
    owner_id = mailbox.owner.id if mailbox.owner else ""
    user = world.store.get_user(owner_id)
    user.auto_create_records = True
    RecordService(world.store).update(user)
    sender = f"twice-{uuid.uuid4().hex[:8]}@prospect.test"
    mids = []
    for n in range(3):
        raw, mid = message(address, sender=sender, subject=f"Hello {n}")
        world.server.deliver(address, raw)
        mids.append(mid)
    assert world.cycle(mailbox).tracked == 3
    (match,) = world.store.address_index.lookup(sender)  # the cycle's cache forgot the sender once created
    assert match.type is EntityType.CONTACT
    emails = [e for mid in mids for e in world.store.emails.query("message_id eq @m", {"m": f"<{mid}>"})]
    assert [e.parties[0].party.id if e.parties[0].party else None for e in emails] == [match.id] * 3
