"""What only Graph has: delta links that expire (410) and JSON batching of the marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.incoming.marks import TRACKED_CATEGORY
from tests.graph.server import GraphServer
from tests.integration.exchange.conftest import ALICE, Deployment, message
from tests.integration.exchange.doubles import GraphDouble, Op

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment(graph_deployment: Deployment) -> Deployment:
    return graph_deployment


@pytest.fixture
def graph(graph_deployment: Deployment) -> GraphServer:
    assert isinstance(graph_deployment.server, GraphDouble)
    return graph_deployment.server.server


def test_an_expired_delta_link_resyncs_from_the_watermark_without_duplicates(
    deployment: Deployment, graph: GraphServer
) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    first, first_id = message(ALICE, subject="first")
    deployment.server.deliver(ALICE, first)
    deployment.run()
    second, second_id = message(ALICE, subject="second")
    deployment.server.deliver(ALICE, second)
    graph.expire_delta_links(ALICE)
    deployment.server.reset_calls()

    deployment.cycle(mailbox)

    assert len(deployment.emails(first_id)) == 1 and len(deployment.emails(second_id)) == 1
    assert graph.calls["messages.delta"] >= 2  # the 410, then a new round
    assert deployment.server.count(Op.FETCH) == 1  # the first message is older than the watermark: not again


def test_categories_go_in_one_json_batch(deployment: Deployment, graph: GraphServer) -> None:
    deployment.user_mailbox(ALICE)
    ids = [deployment.server.deliver(ALICE, message(ALICE, subject=f"m{n}")[0]) for n in range(5)]

    deployment.run()

    assert all(TRACKED_CATEGORY in deployment.server.categories(ALICE, "inbox", item) for item in ids)
    assert graph.calls["batch"] == 1


def test_a_round_spread_over_cycles_misses_no_older_message(
    deployment: Deployment, graph: GraphServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delta pages come in no date order: a round resumed in the next cycle keeps its own idea of "new"."""
    services = deployment.app.services
    services.settings = services.settings.model_copy(  # before the worker is built
        update={"max_emails_per_cycle": 5, "retrieval_batch_size": 5}
    )
    mailbox = deployment.user_mailbox(ALICE)
    newest_first = [datetime(2026, 11, 20, tzinfo=UTC) - timedelta(hours=n) for n in range(10)]
    ids = []
    for n, received in enumerate(newest_first):
        raw, message_id = message(ALICE, subject=f"m{n}")
        graph.deliver(ALICE, raw, received=received)
        ids.append(message_id)

    deployment.run()  # the five newest, then the round stops at the cycle's limit
    assert sum(len(deployment.emails(i)) for i in ids) == 5
    deployment.cycle(mailbox)  # the round goes on: the five older ones are new too

    assert all(len(deployment.emails(i)) == 1 for i in ids)
