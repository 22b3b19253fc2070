"""Benchmark: N messages from one Exchange Online mailbox, read through Microsoft Graph, into Azurite.

The mailbox lives on the Graph test server (``tests.graph.server.GraphServer``, the Exchange Online stand-in
the tests use: Graph v1.0 JSON over HTTPS, bearer tokens checked against the Entra ID mock's keys, at most 4
requests in flight per mailbox). It is reached the way production reaches it: app-only OAuth tokens from the
Entra ID mock (``devstack.entra``) through ``TokenProvider``, an Exchange Online profile whose API is Graph,
``ExchangeMailboxes`` choosing ``GraphConnector``, messages delta pages of 100 and one ``$value`` GET per
message, then parse, classify, store and categorize (categories go back in JSON batches of 20).

Messages are the real ones of the shared corpus (``../shared/corpus/**/*.eml`` beside the repository, read
at run time, cycled to N), each given a unique Message-ID so that each becomes one email; corpus messages
the pipeline does not track by design (no usable sender, bounces of nothing sent) are left out and counted
in ``corpus_skipped``. Without the corpus, generated messages are used and the JSON says ``"corpus": false``.

Baseline, measured in the same run on the same items of the same server: the plain thin client
(``sync.mail.graph.client.GraphClient``, same token source) reading the Inbox's messages delta from scratch
(``Prefer: odata.maxpagesize=100``, the same ``$select``) and GETting every message's ``$value`` one after
another, parsing and storing nothing. It runs once before and once after the pipeline; ``baseline_per_s`` is
their mean.

Graph calls are the server's own count per route (``GraphServer.calls``), which counts a ``$batch`` and each
of its sub-requests; ``http_requests_per_item`` counts what went over the wire (responses the client's
connection pool received), a batch being one. Also: Table transactions per email, Blob writes per email
(attachments: the corpus's messages carry many more than generated ones), Entra ID requests and peak RSS;
the last line is one JSON object (ARCHITECTURE.md §8). The Graph server runs in this process, so its CPU
time shares the interpreter with the client's, and RSS includes its copy of the mailbox (``mailbox_mb``).
``peak_rss_mb`` is the peak during the pipeline (on Linux the peak is reset just before it). Delivering the
messages into the test server parses their headers with Python's email package, which for the corpus's
210 KB header block (``flanker/long-header.eml``) takes over 300 MB; that memory is freed, handed back to
the system (glibc ``malloc_trim``) before anything is measured, and shows only in ``process_peak_rss_mb``
(the whole run).

    python -m bench.graph [--n 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import re
import resource
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from bench import storage_rtt
from bench.corpus import corpus_files, log, messages, trackable
from bench.crm import stored_emails, track_all, user_mailbox
from devstack.azurite import Azurite
from devstack.certs import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.auth.secrets import SecretBox, new_key, seal_field
from sync.auth.tokens import TokenProvider
from sync.incoming.processor import IncomingProcessor
from sync.incoming.worker import MailboxWorker
from sync.mail.ews.connector import EwsConnector
from sync.mail.exchange import ExchangeMailboxes
from sync.mail.graph.client import GraphClient, shared_session
from sync.mail.graph.connector import GraphConnector
from sync.mail.graph.endpoint import GRAPH_RESOURCE
from sync.mail.graph.folders import LISTED, PAGE_SIZE
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import CredentialRetrieval, ExchangeApi, ServerType
from sync.services import incoming_connectors
from sync.settings import Settings, load_settings
from sync.store import Store
from tests.graph.server import GraphServer

TENANT = "bench-graph"
ADDRESS = "graph-bench@example.test"
USER = f"/users/{quote(ADDRESS, safe='@')}"
GRAPH_SCOPE = f"{GRAPH_RESOURCE}/.default"
STORAGE_SERVICES = ("table", "blob", "queue")  # the services StorageAccount's request counter names
BASELINE = "thin Graph client: messages delta + $value, no parse, no storage"


def fill_mailbox(graph: GraphServer, n: int, usable: list[bytes]) -> int:
    """Delivers the N messages into the Inbox of the test server's mailbox; returns their total size."""
    graph.add_mailbox(ADDRESS)
    size = 0
    for raw in messages(n, usable, to=ADDRESS, tag="graph"):
        graph.deliver(ADDRESS, raw)
        size += len(raw)
    return size


# --- the CRM side ---------------------------------------------------------------------------------------
def graph_profile(store: Store, box: SecretBox, graph: GraphServer) -> EmailServerProfile:
    profile = EmailServerProfile(
        name="Exchange Online through Graph (bench)",
        server_type=ServerType.EXCHANGE_ONLINE,
        exchange_api=ExchangeApi.GRAPH,
        graph_url=graph.base_url,
        incoming_credential_retrieval=CredentialRetrieval.SERVER_TO_SERVER,
        exchange_online_tenant_id=TENANT,
        oauth_client_id=CLIENT_ID,
    )
    seal_field(box, profile, "oauth_client_secret", CLIENT_SECRET)
    return store.profiles.insert(profile)


# --- counting what goes over the wire -------------------------------------------------------------------
class WireCount:
    """HTTP responses received on the Graph client's shared session (a ``$batch`` is one)."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.count = 0

    def __enter__(self) -> WireCount:
        self.session.hooks["response"].append(self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.hooks["response"].remove(self._seen)

    def _seen(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.count += 1

    def since(self, start: int) -> int:
        return self.count - start


# --- the two measurements -------------------------------------------------------------------------------
def baseline(run: int, graph: GraphServer, client: GraphClient, wire: WireCount, n: int) -> tuple[float, Counter[str]]:
    """The Inbox's messages delta from scratch, then every message's ``$value`` in turn; nothing else.

    Returns items/s and the Graph calls per route.
    """
    log(f"==> baseline run {run}: thin Graph client, messages delta + $value")
    graph.reset_calls()
    wire_start = wire.count
    started = time.perf_counter()
    headers = {"Prefer": f"odata.maxpagesize={PAGE_SIZE}"}
    ids: list[str] = []
    for page in client.pages(f"{USER}/mailFolders/inbox/messages/delta", {"$select": LISTED}, headers):
        ids += [str(item["id"]) for item in page.get("value", []) if "@removed" not in item]
    downloaded = sum(1 for key in ids if client.get_bytes(f"{USER}/messages/{quote(key, safe='')}/$value"))
    elapsed = time.perf_counter() - started
    if downloaded != n:
        raise RuntimeError(f"baseline downloaded {downloaded} of {n} messages")
    calls, http = graph.calls, wire.since(wire_start)
    log(f"    {n / elapsed:.1f} items/s, {calls.total()} Graph calls {dict(calls)}, {http} HTTP requests")
    return n / elapsed, calls


def pipeline(
    store: Store,
    settings: Settings,
    box: SecretBox,
    graph: GraphServer,
    tokens: TokenProvider,
    wire: WireCount,
    mailbox: Mailbox,
    n: int,
) -> tuple[float, Counter[str], Counter[str], int]:
    """Scheduler claims + worker cycles until N are tracked.

    Returns emails/s, storage requests per service (table, blob, queue), Graph calls per route, HTTP requests.
    """
    exchange = ExchangeMailboxes(EwsConnector(settings, box, tokens), GraphConnector(settings, box, tokens))
    worker = MailboxWorker(store, settings, box, incoming_connectors(exchange))
    counter = store.account.counter
    graph.reset_calls()
    wire_start = wire.count
    before = {service: counter.total(service) for service in STORAGE_SERVICES}
    elapsed = track_all(store, settings, worker, mailbox, n)
    storage = Counter({service: counter.total(service) - before[service] for service in STORAGE_SERVICES})
    return n / elapsed, storage, graph.calls, wire.since(wire_start)


def release_freed_memory() -> None:
    """Hands freed heap pages back to the system (glibc), so setup's transient peaks do not stay resident."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def reset_peak_rss() -> None:
    """Starts a new peak-RSS window (Linux's ``clear_refs``); elsewhere the peak stays the process's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """The peak resident set since :func:`reset_peak_rss` (VmHWM), or the process's where there is none."""
    with contextlib.suppress(OSError):
        found = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
        if found:
            return int(found.group(1)) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def token_source(tokens: TokenProvider) -> Callable[[], str]:
    """The baseline's tokens: the same provider and app the pipeline uses (MSAL serves them from its cache)."""
    return lambda: tokens.token(TENANT, CLIENT_ID, CLIENT_SECRET, GRAPH_SCOPE).value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="messages in the mailbox (default 1000)")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    n: int = args.n
    run_started = time.perf_counter()
    with contextlib.ExitStack() as servers:  # stops every server, in reverse order, however the run ends
        work_dir = Path(tempfile.mkdtemp(prefix="bench-graph-"))
        servers.callback(shutil.rmtree, work_dir, ignore_errors=True)
        log("==> starting Azurite, the Entra ID mock and the Graph test server")
        ca = TestCA.create(work_dir / "ca")
        azurite = servers.enter_context(Azurite(work_dir / "azurite", in_memory=True))
        storage_url = servers.enter_context(storage_rtt.storage_connection(azurite, args.storage_rtt_ms))
        entra = servers.enter_context(EntraMock(work_dir / "entra", ca, tenant=TENANT))
        graph = servers.enter_context(GraphServer(ca, f"{entra.authority}/{TENANT}/discovery/v2.0/keys"))
        settings = load_settings(
            storage_connection_string=storage_url,
            secret_encryption_key=new_key(),
            storage_prefix="bench" + uuid.uuid4().hex[:6],
            extra_ca_file=str(ca.ca_cert),
            entra_authority=entra.authority,
            worker_budget_seconds=590,
        ).model_copy(update={"max_emails_per_cycle": 10_000})  # one cycle takes the whole mailbox
        store = Store.from_settings(settings)
        store.account.ensure_created()
        box = SecretBox(settings.aes_key())
        tokens = TokenProvider(store.token_cache, box, settings.entra_authority, settings.extra_ca_file)
        mailbox = user_mailbox(store, graph_profile(store, box, graph), ADDRESS, "Graph bench")
        wire = servers.enter_context(WireCount(shared_session(settings.extra_ca_file)))

        files = corpus_files()
        profile = store.get_profile(mailbox.email_server_profile_id or "")
        processor = IncomingProcessor(store, settings, store.get_organization(), mailbox, profile)
        usable, skipped = trackable(processor, files)
        corpus = bool(usable)
        what = f"{len(usable)} corpus messages cycled" if corpus else "generated messages (no corpus found)"
        log(f"==> delivering {n} messages into the Inbox ({what}; left out as not tracked by design: {skipped})")
        mailbox_bytes = fill_mailbox(graph, n, usable)
        release_freed_memory()

        # Warm up what both measurements share (MSAL app and token, the server's JWKS, pooled TLS connections).
        client = GraphClient(token_source(tokens), base_url=graph.base_url, ca_file=settings.extra_ca_file)
        client.get(f"{USER}/mailFolders/inbox")

        runs = [baseline(1, graph, client, wire, n)[0]]

        setup_peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the reset forgets it
        reset_peak_rss()
        log("==> full pipeline: scheduler claim + MailboxWorker over Graph (app-only OAuth) into Azurite")
        per_s, storage, calls, http = pipeline(store, settings, box, graph, tokens, wire, mailbox, n)
        peak_rss = peak_rss_mb()
        log(f"    {per_s:.1f} emails/s, {calls.total()} Graph calls {dict(calls)}, {http} HTTP requests")
        log(f"    storage requests: {dict(storage)}")
        stored = stored_emails(store, mailbox)
        if stored != n:
            raise RuntimeError(f"{stored} emails stored for {n} messages")

        rate, base_calls = baseline(2, graph, client, wire, n)
        runs.append(rate)

    base = sum(runs) / len(runs)
    summary = {
        "benchmark": "graph",
        "n": n,
        "storage_rtt_ms": args.storage_rtt_ms,
        "per_s": round(per_s, 1),
        "baseline": BASELINE,
        "baseline_per_s": round(base, 1),
        "ratio": round(per_s / base, 3),
        "calls_per_item": round(calls.total() / n, 3),
        "http_requests_per_item": round(http / n, 3),
        "baseline_calls_per_item": round(base_calls.total() / n, 3),
        "calls_by_route": dict(sorted(calls.items())),
        "baseline_calls_by_route": dict(sorted(base_calls.items())),
        "table_tx_per_email": round(storage["table"] / n, 2),
        "blob_tx_per_email": round(storage["blob"] / n, 2),
        "entra_requests": tokens.counter.total(),
        "peak_rss_mb": round(peak_rss, 1),
        "process_peak_rss_mb": round(max(setup_peak_rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), 1),
        "mailbox_mb": round(mailbox_bytes / 1024 / 1024, 1),
        "corpus": corpus,
        "corpus_files": len(usable),
        "corpus_skipped": skipped,
        "baseline_runs_per_s": [round(rate, 1) for rate in runs],
        "wall_s": round(time.perf_counter() - run_started, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
