"""The per-mailbox bound: never more than 4 requests in flight for one mailbox, as Outlook requires.

The server holds every call for a moment (``latency_s``) and records the most calls it saw at once per
mailbox, so the bound is read off the server, not inferred from timings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack import TestCA
from sync.mail.graph.client import GraphClient
from sync.mail.graph.errors import GraphThrottled
from tests.graph.server import GraphServer
from tests.integration.graph_server.conftest import new_mime

pytestmark = pytest.mark.integration

THREADS = 10
CALLS_PER_THREAD = 2
HOLD_S = 0.05  # long enough for every thread to pile up on a loopback server


def hammer(client: GraphClient, path: str) -> list[BaseException]:
    """THREADS threads, released together, each making CALLS_PER_THREAD calls; the errors they met."""
    start = threading.Barrier(THREADS)

    def worker() -> list[BaseException]:
        start.wait()
        errors: list[BaseException] = []
        for _ in range(CALLS_PER_THREAD):
            try:
                client.get(path)
            except GraphThrottled as exc:
                errors.append(exc)
        return errors

    with ThreadPoolExecutor(THREADS) as pool:
        results = [pool.submit(worker) for _ in range(THREADS)]
        return [error for result in results for error in result.result()]


def test_the_client_keeps_a_mailbox_at_four_requests_in_flight(
    graph_server: GraphServer, client: GraphClient, mailbox: str
) -> None:
    message_id = graph_server.deliver(mailbox, new_mime()[0])
    graph_server.latency_s = HOLD_S

    errors = hammer(client, f"/users/{mailbox}/messages/{message_id}")

    assert errors == []
    assert graph_server.max_concurrent(mailbox) == 4
    assert graph_server.calls["message.get"] == THREADS * CALLS_PER_THREAD


def test_a_looser_bound_meets_graphs_mailbox_concurrency_limit(
    graph_server: GraphServer, graph_token: Callable[[], str], test_ca: TestCA, mailbox: str
) -> None:
    loose = GraphClient(graph_token, base_url=graph_server.base_url, ca_file=str(test_ca.ca_cert), max_concurrent=8)
    message_id = graph_server.deliver(mailbox, new_mime()[0])
    graph_server.latency_s = HOLD_S

    errors = hammer(loose, f"/users/{mailbox}/messages/{message_id}")

    assert graph_server.max_concurrent(mailbox) > 4
    assert errors and all(isinstance(e, GraphThrottled) and e.code == "ApplicationThrottled" for e in errors)


def test_each_mailbox_has_its_own_four_slots(graph_server: GraphServer, client: GraphClient, mailbox: str) -> None:
    other = "bob@example.test"
    graph_server.add_mailbox(other)
    ids = {box: graph_server.deliver(box, new_mime()[0]) for box in (mailbox, other)}
    graph_server.latency_s = HOLD_S

    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(hammer, client, f"/users/{box}/messages/{ids[box]}") for box in ids]
        assert [run.result() for run in runs] == [[], []]

    assert graph_server.max_concurrent(mailbox) <= 4 and graph_server.max_concurrent(other) <= 4
    assert graph_server.max_concurrent() > 4  # one shared bound would have held both mailboxes to 4
