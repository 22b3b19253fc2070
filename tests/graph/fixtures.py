"""pytest plugin: a fresh Graph test server per test, and Graph tokens from the Entra ID stand-in through MSAL.

Load with ``pytest_plugins = ["tests.graph.fixtures"]``. The server is function-scoped (tests arm faults and
fill mailboxes, so none may see another's) and always stopped; the token issuer starts once per session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import msal
import pytest
import requests

from devstack import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from tests.graph.auth import GRAPH_AUDIENCE
from tests.graph.server import GraphServer

GRAPH_TENANT = "graph-tenant"
GRAPH_SCOPE = f"{GRAPH_AUDIENCE}/.default"


def jwks_url(entra: EntraMock) -> str:
    return f"{entra.authority}/{entra.tenant}/discovery/v2.0/keys"


def msal_token_provider(entra: EntraMock, ca: TestCA) -> Callable[[], str]:
    """Tokens for Graph by the client-credentials grant, as production gets them; MSAL caches them.

    ``aud`` is also sent as a form field: the stand-in takes the audience from it (a real tenant, and a
    newer stand-in, derive it from the ``/.default`` scope, which gives the same value).
    """
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace verify=
    http.verify = str(ca.ca_cert)
    app = msal.ConfidentialClientApplication(
        CLIENT_ID,
        client_credential=CLIENT_SECRET,
        authority=f"{entra.authority}/{entra.tenant}",
        instance_discovery=False,
        http_client=http,
    )

    def token() -> str:
        result = app.acquire_token_for_client([GRAPH_SCOPE], data={"aud": GRAPH_AUDIENCE})
        if "access_token" not in result:
            raise RuntimeError(f"no Graph token from the Entra ID stand-in: {result.get('error_description')}")
        return str(result["access_token"])

    return token


@pytest.fixture(scope="session")
def graph_entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / "graph-entra", test_ca, tenant=GRAPH_TENANT) as mock:
        yield mock


@pytest.fixture(scope="session")
def graph_token(graph_entra: EntraMock, test_ca: TestCA) -> Callable[[], str]:
    return msal_token_provider(graph_entra, test_ca)


@pytest.fixture
def graph_server(test_ca: TestCA, graph_entra: EntraMock) -> Iterator[GraphServer]:
    server = GraphServer(test_ca, jwks_url(graph_entra))
    server.start()
    try:
        yield server
    finally:
        server.stop()
