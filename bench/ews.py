"""Benchmark: N messages from one Exchange Online mailbox through the full incoming pipeline into Azurite.

The mailbox lives on the EWS test server (``tests.ews.server.EwsServer``, the Exchange stand-in the
integration tests use: real SOAP over HTTPS, so exchangelib runs against it unmodified), started in a child
process so that its CPU and memory stay out of the figures, as a real Exchange's would. It is reached the
way production reaches Exchange Online: app-only OAuth tokens from the Entra ID mock (``devstack.entra``),
impersonation, SyncFolderItems pages and batched GetItem, then parse, classify, store and categorize, by
the real scheduler claim and ``MailboxWorker``.

Messages are the real ones of the shared corpus (``../shared/corpus/**/*.eml`` beside the repository,
read at run time, cycled to N), each given a unique Message-ID so that each becomes one email. Corpus
messages the pipeline does not track by design (no usable From address, a bounce of nothing the CRM
sent) are left out, found with the read-only CheckIncomingEmail decision before the run and counted in
``corpus_skipped``. Without the corpus, generated messages are used and the JSON says ``"corpus": false``.

Baseline, measured in the same run against the same server, on a second mailbox holding the same
messages: plain exchangelib (Basic credentials, version and scheme pinned so nothing is probed) listing
the Inbox with ``sync_items`` (IdOnly) and downloading every item's MimeContent with ``account.fetch``
in its default chunks, parsing and storing nothing. It runs twice after the pipeline;
``baseline_per_s`` is the mean of the two.

Prints emails/s, the baseline, their ratio, EWS calls per item (the server's own count), Table
transactions per email and the peak RSS of this process up to the end of the pipeline; the last line is
one JSON object (ARCHITECTURE.md §8).

    python -m bench.ews [--n 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import resource
import shutil
import ssl
import sys
import tempfile
import time
import uuid
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Self, cast

from exchangelib import DELEGATE, Account, Configuration, Credentials, Version, close_connections
from exchangelib.protocol import BaseProtocol
from exchangelib.services import SyncFolderItems
from exchangelib.transport import BASIC
from exchangelib.version import EXCHANGE_2013_SP1

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
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import CredentialRetrieval, ServerType
from sync.services import incoming_connectors
from sync.settings import Settings, load_settings
from sync.store import Store
from tests.ews.fixtures import TestCaAdapter
from tests.ews.server import EwsServer

TENANT = "bench-ews"
ADDRESS = "ews-bench@example.test"  # the pipeline's mailbox (app-only OAuth, impersonation)
BASELINE_ADDRESS = "ews-baseline@example.test"  # the same messages, for the baseline (Basic login)
PASSWORD = "secret"  # the baseline's Basic password on the test server; not a real secret
BASELINE = "plain exchangelib SyncFolderItems + GetItem(MimeContent), no parse, no storage"


# --- the EWS test server, in a child process -------------------------------------------------------------
class RemoteEws:
    """``EwsServer`` run in a child process, driven through a pipe.

    Exchange is another machine: its CPU (building SOAP replies, parsing headers for the listed fields) and
    its memory (the mailbox) must not share this process's interpreter lock or count in its peak RSS.
    """

    def __init__(self, ca: TestCA, users: dict[str, str], jwks_url: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        arguments = (child, str(ca.server_cert), str(ca.server_key), str(ca.ca_cert), users, jwks_url)
        self._process = context.Process(target=_serve, args=arguments, name="ews-server", daemon=True)
        self.url = ""

    def start(self) -> Self:
        self._process.start()
        self.url = str(self._ask("url"))
        return self

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(OSError, EOFError, RuntimeError):
                self._ask("stop")
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
        self._conn.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_mailbox(self, address: str) -> None:
        self._ask("add_mailbox", address)

    def deliver(self, addresses: list[str], mime: bytes) -> None:
        """Into the Inbox of each of ``addresses`` (one copy of the bytes on the server)."""
        self._ask("deliver", addresses, mime)

    def reset_calls(self) -> None:
        self._ask("reset_calls")

    def calls(self) -> Counter[str]:
        """EWS requests per operation since the last ``reset_calls``."""
        return Counter(cast(dict[str, int], self._ask("calls")))

    def _ask(self, command: str, *arguments: object) -> object:
        self._conn.send((command, arguments))
        ok, value = self._conn.recv()
        if not ok:
            raise RuntimeError(f"EWS server: {command} failed: {value}")
        return value


def _serve(conn: Connection, cert: str, key: str, ca_file: str, users: dict[str, str], jwks_url: str) -> None:
    """The child process: one EwsServer, answering commands until told to stop."""
    trust = ssl.create_default_context(cafile=ca_file)
    with EwsServer(Path(cert), Path(key), users=users, jwks_url=jwks_url, jwks_ssl_context=trust) as server:
        while True:
            command, arguments = conn.recv()
            try:
                value: object = None
                if command == "stop":
                    conn.send((True, None))
                    return
                if command == "url":
                    value = server.url
                elif command == "add_mailbox":
                    server.add_mailbox(*arguments)
                elif command == "deliver":
                    addresses, mime = arguments
                    for address in addresses:
                        server.deliver(address, mime)
                elif command == "reset_calls":
                    server.reset_calls()
                elif command == "calls":
                    value = dict(server.calls)
                else:
                    raise ValueError(f"unknown command {command}")
                conn.send((True, value))
            except Exception as exc:  # report it to the parent, keep serving
                conn.send((False, repr(exc)))


# --- the CRM side ---------------------------------------------------------------------------------------
def exchange_profile(store: Store, box: SecretBox, ews: RemoteEws) -> EmailServerProfile:
    profile = EmailServerProfile(
        name="Exchange hybrid (bench)",  # EWS with app-only OAuth; Exchange Online itself goes through Graph
        server_type=ServerType.EXCHANGE_SERVER_HYBRID,
        default_server_location=ews.url,
        incoming_credential_retrieval=CredentialRetrieval.SERVER_TO_SERVER,
        exchange_online_tenant_id=TENANT,
        oauth_client_id=CLIENT_ID,
    )
    seal_field(box, profile, "oauth_client_secret", CLIENT_SECRET)
    return store.profiles.insert(profile)


# --- the two measurements -------------------------------------------------------------------------------
def plain_exchangelib(ca: TestCA, work_dir: Path) -> None:
    """exchangelib's own HTTP adapter, only taught to trust the test CA (ours also reads in large chunks)."""

    class PlainTrust(TestCaAdapter):
        bundle = str(ca.combined_bundle(work_dir / "bundle.pem"))

    BaseProtocol.HTTP_ADAPTER_CLS = PlainTrust
    close_connections()  # sessions made with our adapter are dropped


def baseline(ews: RemoteEws, n: int) -> tuple[float, Counter[str]]:
    """List the Inbox (IdOnly) and download every item's MIME with plain exchangelib; nothing else."""
    config = Configuration(
        service_endpoint=ews.url,
        credentials=Credentials(BASELINE_ADDRESS, PASSWORD),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2013_SP1),  # what the connector pins for Exchange Server
    )
    ews.reset_calls()
    started = time.perf_counter()
    account = Account(BASELINE_ADDRESS, config=config, autodiscover=False, access_type=DELEGATE)
    ids = [
        (item.id, item.changekey)
        for kind, item in account.inbox.sync_items(only_fields=[])
        if kind == SyncFolderItems.CREATE
    ]
    downloaded = sum(1 for item in account.fetch(ids, only_fields=["mime_content"]) if item.mime_content)
    elapsed = time.perf_counter() - started
    if downloaded != n:
        raise RuntimeError(f"baseline downloaded {downloaded} of {n} items")
    return n / elapsed, ews.calls()


def pipeline(
    store: Store, settings: Settings, box: SecretBox, ews: RemoteEws, tokens: TokenProvider, mailbox: Mailbox, n: int
) -> tuple[float, int, Counter[str]]:
    """Scheduler claims + worker cycles until N are tracked; returns emails/s, Table requests, EWS calls."""
    worker = MailboxWorker(store, settings, box, incoming_connectors(EwsConnector(settings, box, tokens)))
    counter = store.account.counter
    ews.reset_calls()
    before = counter.total("table")
    elapsed = track_all(store, settings, worker, mailbox, n)
    return n / elapsed, counter.total("table") - before, ews.calls()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="messages in the mailbox (default 1000)")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    n: int = args.n
    run_started = time.perf_counter()
    with contextlib.ExitStack() as servers:  # stops every server, in reverse order, however the run ends
        work_dir = Path(tempfile.mkdtemp(prefix="bench-ews-"))
        servers.callback(shutil.rmtree, work_dir, ignore_errors=True)
        log("==> starting Azurite, the Entra ID mock and the EWS test server")
        ca = TestCA.create(work_dir / "ca")
        azurite = servers.enter_context(Azurite(work_dir / "azurite", in_memory=True))
        storage_url = servers.enter_context(storage_rtt.storage_connection(azurite, args.storage_rtt_ms))
        entra = servers.enter_context(EntraMock(work_dir / "entra", ca, tenant=TENANT))
        jwks = f"{entra.authority}/{TENANT}/discovery/v2.0/keys"
        ews = servers.enter_context(RemoteEws(ca, {BASELINE_ADDRESS: PASSWORD}, jwks))
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
        mailbox = user_mailbox(store, exchange_profile(store, box, ews), ADDRESS, "EWS bench")

        files = corpus_files()
        profile = store.get_profile(mailbox.email_server_profile_id or "")
        processor = IncomingProcessor(store, settings, store.get_organization(), mailbox, profile)
        usable, skipped = trackable(processor, files)
        corpus = bool(usable)
        what = f"{len(usable)} corpus messages cycled" if corpus else "generated messages (no corpus found)"
        log(f"==> delivering {n} messages into two Inboxes ({what}; not tracked by design, left out: {skipped})")
        ews.add_mailbox(ADDRESS)
        ews.add_mailbox(BASELINE_ADDRESS)
        mailbox_bytes = 0
        for raw in messages(n, usable, to=ADDRESS, tag="ews"):
            ews.deliver([ADDRESS, BASELINE_ADDRESS], raw)
            mailbox_bytes += len(raw)

        log("==> full pipeline: scheduler claim + MailboxWorker over EWS (app-only OAuth) into Azurite")
        per_s, table_tx, calls = pipeline(store, settings, box, ews, tokens, mailbox, n)
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the baseline adds its own
        log(f"    {per_s:.1f} emails/s, {calls.total()} EWS calls {dict(calls)}, {table_tx} Table requests")
        stored = stored_emails(store, mailbox)
        if stored != n:
            raise RuntimeError(f"{stored} emails stored for {n} messages")

        plain_exchangelib(ca, work_dir)  # the baseline reads responses as exchangelib does by itself
        runs: list[float] = []
        for run in (1, 2):
            log(f"==> baseline run {run}: plain exchangelib, SyncFolderItems + GetItem(MimeContent)")
            rate, base_calls = baseline(ews, n)
            runs.append(rate)
            log(f"    {rate:.1f} items/s, {base_calls.total()} EWS calls {dict(base_calls)}")

    base = sum(runs) / len(runs)
    summary = {
        "benchmark": "ews",
        "n": n,
        "storage_rtt_ms": args.storage_rtt_ms,
        "per_s": round(per_s, 1),
        "baseline": BASELINE,
        "baseline_per_s": round(base, 1),
        "ratio": round(per_s / base, 3),
        "calls_per_item": round(calls.total() / n, 3),
        "baseline_calls_per_item": round(base_calls.total() / n, 3),
        "calls_by_operation": dict(sorted(calls.items())),
        "baseline_calls_by_operation": dict(sorted(base_calls.items())),
        "table_tx_per_email": round(table_tx / n, 2),
        "entra_requests": tokens.counter.total(),
        "peak_rss_mb": round(peak_rss, 1),
        "peak_rss_mb_with_baseline": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
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
