"""Graph and EWS requests go only where the egress policy allows, checked on the address connected to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack import TestCA
from sync.mail import egress
from sync.mail.errors import MailServerError
from sync.mail.graph.client import GraphClient
from tests.integration.mail.test_graph_redirect import _Server

pytestmark = pytest.mark.integration


@pytest.fixture
def graph_like(test_ca: TestCA) -> Iterator[_Server]:
    server = _Server(test_ca, None)
    yield server
    server.stop()


def test_graph_on_loopback_is_refused_without_the_opt_in(test_ca: TestCA, graph_like: _Server) -> None:
    client = GraphClient(lambda: "token", base_url=f"{graph_like.url}/v1.0", ca_file=str(test_ca.ca_cert))
    with egress.policy_in_effect(egress.EgressPolicy()), pytest.raises(MailServerError) as refused:
        client.get("/users/a@example.test/messages")
    assert refused.value.code == egress.REFUSED_CODE
    assert graph_like.requests == []


def test_graph_on_loopback_works_with_the_opt_in(test_ca: TestCA, graph_like: _Server) -> None:
    client = GraphClient(lambda: "token", base_url=f"{graph_like.url}/v1.0", ca_file=str(test_ca.ca_cert))
    with egress.policy_in_effect(egress.EgressPolicy(allow_loopback=True)):
        assert client.get("/users/a@example.test/messages") == {"value": []}
    assert graph_like.requests == ["/v1.0/users/a@example.test/messages"]
