"""Creating and sending an email through the admin API costs at most a fixed number of storage requests.

Counted with the store's RequestCounter against the real Azurite, through the routes as the admin app mounts
them (its read cache and tracking-counter block, with a frozen clock: nothing expires during the test). Also
the order SendEmail promises when its independent writes go out together: a failure of any of them leaves
the email a Draft with nothing queued.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from azure.core.exceptions import ResourceNotFoundError
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sync.api import emails, errors
from sync.model.options import EmailStatus
from sync.outgoing.counter_blocks import CounterBlocks
from sync.settings import Settings
from sync.store import Store
from sync.store.outbox import OutboxIndex
from sync.store.read_cache import ReadCache
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration

BUDGET = 10  # requests for create + send of one email to one contact (15 before; see BENCHMARKS.md)
# plus, once per CounterBlocks.size tokens, the 2 of reserving a block


@pytest.fixture
def client(outbox: Outbox) -> Iterator[TestClient]:
    app = FastAPI()
    errors.install(app)
    app.include_router(emails.router)
    cache = ReadCache(outbox.store, monotonic=lambda: 0.0)  # frozen: what the test reads stays cached
    counters = CounterBlocks()

    def store() -> Store:
        return outbox.store

    def settings() -> Settings:
        return outbox.settings

    app.dependency_overrides[emails.get_store] = store
    app.dependency_overrides[emails.get_settings] = settings
    app.dependency_overrides[emails.get_read_cache] = lambda: cache
    app.dependency_overrides[emails.get_token_counters] = lambda: counters
    with TestClient(app) as test_client:
        yield test_client


def _create_and_send(client: TestClient, outbox: Outbox, sender_id: str) -> str:
    body = {
        "from": {"type": "systemuser", "id": sender_id},
        "to": [{"type": "contact", "id": outbox.carol.id}],
        "subject": "Offer",
        "html_body": "<p>Our offer.</p>",
    }
    created = client.post("/api/emails", json=body)
    assert created.status_code == 201, created.text
    sent = client.post(f"/api/emails/{created.json()['id']}/send", json={})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"]["name"] == "pending_send"
    email_id: str = created.json()["id"]
    return email_id


def test_create_and_send_stay_within_the_request_budget(outbox: Outbox, client: TestClient) -> None:
    user, _ = outbox.mailbox()
    _create_and_send(client, outbox, user.id)  # the user's first token takes their number (once per user)
    _create_and_send(client, outbox, user.id)  # reserves a block of counter values (once per 20 tokens)
    counter = outbox.store.account.counter
    counts = []
    for _ in range(3):
        before = counter.total()
        _create_and_send(client, outbox, user.id)
        counts.append(counter.total() - before)
    assert max(counts) <= BUDGET, counts
    outbox.receive()


def test_tokens_from_a_reserved_block_are_distinct_and_correlate(outbox: Outbox, client: TestClient) -> None:
    user, _ = outbox.mailbox()
    ids = [_create_and_send(client, outbox, user.id) for _ in range(3)]
    tokens = [outbox.store.get_email(email_id).tracking_token or "" for email_id in ids]
    assert len(set(tokens)) == 3
    for email_id, token in zip(ids, tokens, strict=True):
        assert [s.email_id for s in outbox.store.token_index.find(token)] == [email_id]
    outbox.receive()


def test_a_failed_index_write_leaves_a_draft_and_queues_nothing(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    draft = outbox.draft(user)
    sending = outbox.emails()
    # a real table that does not exist: Azurite answers 404 to the outbox entry's write
    sending.outbox = OutboxIndex(outbox.store.account.tables.get_table_client("nosuchtable"))
    with pytest.raises(ResourceNotFoundError):
        sending.send(draft.id)
    stored = outbox.get(draft)
    assert stored.status is EmailStatus.DRAFT
    assert outbox.receive() == []
    assert outbox.emails().send(draft.id).status is EmailStatus.PENDING_SEND  # sending again works
    assert len(outbox.receive()) == 1
