"""An Exchange item whose processing keeps failing is marked Undeliverable only after its last try (R-REC-9).

Through the EWS and Graph test servers and the dev host. The retry interval is set to zero so the host's
real clock needs no waiting; the fault is deterministic (the email builder raises for one subject).
"""

from __future__ import annotations

import pytest

from sync.health import item_retries
from sync.incoming.marks import UNDELIVERABLE_CATEGORY, UNDELIVERABLE_FOLDER
from sync.incoming.processor import IncomingProcessor
from tests.integration.exchange.conftest import ALICE, Deployment, message

pytestmark = pytest.mark.integration

BROKEN = "always breaks the pipeline"


def test_r_rec_9_an_item_failing_six_times_is_marked_undeliverable_after_the_last_try(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(item_retries, "ITEM_RETRY_MINUTES", 0)
    original = IncomingProcessor._build_email

    def build(self: IncomingProcessor, parsed: object, *args: object) -> object:
        if getattr(parsed, "subject", "") == BROKEN:
            raise RuntimeError("a plug-in failed")
        return original(self, parsed, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(IncomingProcessor, "_build_email", build)
    profile = deployment.exchange_profile(move_undelivered_emails=True)
    mailbox = deployment.user_mailbox(ALICE, profile=profile)
    raw, message_id = message(ALICE, subject=BROKEN)
    deployment.server.deliver(ALICE, raw)
    for attempt in range(1, item_retries.ITEM_RETRIES + 1):
        deployment.cycle(mailbox)
        (failure,) = list(deployment.store.item_failures.partition(mailbox.id))
        assert (failure.reason, failure.attempts) == ("RetryPending", attempt)
        assert deployment.server.folder_named(ALICE, UNDELIVERABLE_FOLDER) is None  # not marked while it is retried
        assert deployment.server.message_ids(ALICE, "inbox") == [message_id]
    deployment.cycle(mailbox)  # the sixth try
    (failure,) = list(deployment.store.item_failures.partition(mailbox.id))
    assert (failure.reason, failure.attempts) == ("Quarantined", item_retries.ITEM_RETRIES + 1)
    folder = deployment.server.folder_named(ALICE, UNDELIVERABLE_FOLDER)
    assert folder is not None
    assert deployment.server.message_ids(ALICE, folder) == [message_id]
    [item] = deployment.server.item_ids(ALICE, folder)
    assert UNDELIVERABLE_CATEGORY in deployment.server.categories(ALICE, folder, item)
    assert deployment.emails(message_id) == []
