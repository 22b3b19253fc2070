"""``python -m bench.act --api graph``: the initial ACT sync of N CRM records into an Exchange Online mailbox
through Microsoft Graph.

The same records and the same measurement as the EWS run (``bench/act.py``), with the mailbox on the Graph
test server (``tests.graph.server.GraphServer``: Graph v1.0 JSON over HTTPS, bearer tokens checked against
the Entra ID mock's keys, at most 4 requests in flight per mailbox), reached as production reaches it:
app-only tokens from the Entra ID mock through ``TokenProvider``, a default Exchange Online profile, and
``ExchangeActMailboxes`` choosing ``GraphConnector``. The server runs in this process, as in
``bench/graph.py``, so its CPU shares the interpreter with both measurements.

Baseline, in the same run against the same server: the plain thin client (``GraphClient``, same token
source) creating the same N items one by one on a second mailbox (``POST /events``, ``/contacts``,
``/todo/lists/{id}/tasks``), their bodies built from the same canonical fields with the adapter's pure
builders, storing nothing. ``calls_per_item`` is the server's count (a ``$batch`` and each request in it);
``http_requests_per_item`` what went over the wire (a batch is one).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.graph import WireCount
from devstack.certs import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.act.port import ActConnector
from sync.auth.secrets import SecretBox, seal_field
from sync.auth.tokens import TokenProvider
from sync.mail.ews.connector import EwsConnector
from sync.mail.exchange import ExchangeActMailboxes
from sync.mail.graph import act_contacts, act_events, act_tasks
from sync.mail.graph.client import GraphClient, shared_session
from sync.mail.graph.connector import GraphConnector
from sync.mail.graph.endpoint import GRAPH_RESOURCE
from sync.model import EmailServerProfile
from sync.model.options import CredentialRetrieval, EntityType, ServerType
from sync.settings import Settings
from sync.store import Store
from tests.graph.server import GraphServer

TENANT = "bench-act-graph"
BASELINE = "thin Graph client: one POST per item, nothing stored"
KINDS = {EntityType.APPOINTMENT: "event", EntityType.CONTACT: "contact", EntityType.TASK: "todoTask"}
Plan = list[tuple[EntityType, dict[str, object]]]


@dataclass
class GraphSide:
    graph: GraphServer
    tokens: TokenProvider
    connector: ActConnector
    wire: WireCount

    def reset_calls(self) -> None:
        self.graph.reset_calls()

    def calls(self) -> Counter[str]:
        return self.graph.calls


def start(servers: contextlib.ExitStack, work_dir: Path, ca: TestCA) -> tuple[EntraMock, GraphServer]:
    entra = servers.enter_context(EntraMock(work_dir / "entra", ca, tenant=TENANT))
    graph = servers.enter_context(GraphServer(ca, f"{entra.authority}/{TENANT}/discovery/v2.0/keys"))
    return entra, graph


def connect(
    servers: contextlib.ExitStack, store: Store, settings: Settings, box: SecretBox, graph: GraphServer
) -> GraphSide:
    tokens = TokenProvider(store.token_cache, box, settings.entra_authority, settings.extra_ca_file)
    connector = ExchangeActMailboxes(EwsConnector(settings, box, tokens), GraphConnector(settings, box, tokens))
    wire = servers.enter_context(WireCount(shared_session(settings.extra_ca_file)))
    return GraphSide(graph, tokens, connector, wire)


def profile(store: Store, box: SecretBox, graph: GraphServer) -> EmailServerProfile:
    """A default Exchange Online profile: its API is Graph."""
    found = EmailServerProfile(
        name="Exchange Online (ACT bench)",
        server_type=ServerType.EXCHANGE_ONLINE,
        graph_url=graph.base_url,
        incoming_credential_retrieval=CredentialRetrieval.SERVER_TO_SERVER,
        exchange_online_tenant_id=TENANT,
        oauth_client_id=CLIENT_ID,
    )
    seal_field(box, found, "oauth_client_secret", CLIENT_SECRET)
    return store.profiles.insert(found)


def token_source(tokens: TokenProvider) -> Callable[[], str]:
    return lambda: tokens.token(TENANT, CLIENT_ID, CLIENT_SECRET, f"{GRAPH_RESOURCE}/.default").value


def baseline(side: GraphSide, settings: Settings, address: str, planned: Plan) -> tuple[float, Counter[str], int]:
    """Each item POSTed alone by the plain client: items/s, the server's calls, HTTP requests."""
    client = GraphClient(token_source(side.tokens), base_url=side.graph.base_url, ca_file=settings.extra_ca_file)
    user = f"/users/{address}"
    side.reset_calls()
    wire_start = side.wire.count
    started = time.perf_counter()
    lists = client.get(f"{user}/todo/lists")["value"]
    tasks = next(t["id"] for t in lists if t.get("wellknownListName") == "defaultList")
    for object_type, values in planned:
        if object_type is EntityType.APPOINTMENT:
            body, extended = act_events.event_body(values, values.keys(), invite=False)
            client.post(f"{user}/events", body | {"singleValueExtendedProperties": extended})
        elif object_type is EntityType.CONTACT:
            client.post(f"{user}/contacts", act_contacts.contact_body(values, values.keys()))
        else:
            client.post(f"{user}/todo/lists/{tasks}/tasks", act_tasks.task_body(values, values.keys()))
    elapsed = time.perf_counter() - started
    return len(planned) / elapsed, side.calls(), side.wire.since(wire_start)


def items_in_mailbox(graph: GraphServer, address: str) -> dict[EntityType, int]:
    """A series is its one master event."""
    return {t: len(graph.pim_items(address, kind)) for t, kind in KINDS.items()}
