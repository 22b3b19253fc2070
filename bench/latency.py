"""Benchmark: arrival-to-tracked latency with push (Graph change notifications), Graph polling and IMAP polling.

Everything runs as deployed, on the real local servers: the Functions app's triggers driven by the dev host
(its real timers on their NCRONTAB schedules, its queue pollers with host.json's settings) against Azurite,
the admin API served over HTTP for Graph's notifications, Dovecot for IMAP, the Graph test server (with the
Entra ID mock's tokens) for Exchange Online. Three groups of mailboxes, ``--mailboxes`` each (default 200):

- **push**: Graph mailboxes subscribed to change notifications (``PushSubscriber.ensure``, what Test & Enable
  does); each new message makes the Graph test server POST a notification to the app, which queues the cycle;
- **graph_poll**: Graph mailboxes without a subscription: the scheduler's adaptive polling only;
- **imap**: Dovecot mailboxes, adaptive polling.

Every mailbox has its first cycle before the measurement (it sets the watermarks), then ``--per-mailbox``
messages per mailbox on average arrive at uniformly random times over ``--duration`` seconds (default 600).
A message's latency is the time from its delivery to the mail server to the ``created_on`` of its email
activity in the store. After the last arrival the run waits until every message is tracked (at most
``--tail`` seconds: an idle mailbox is polled every 12 minutes). Also counted per group, over the
measurement: cycles per mailbox-hour, IMAP logins (one per cycle) and Graph API calls per mailbox-hour, to
compare with Dynamics' 5-minute cadence (12 cycles per mailbox-hour), and the share of cycles after which the
poll budget (SYNC_POLL_CYCLES_PER_HOUR, docs/scheduling.md) held the next poll later than the adaptive
polling asked (``*_budget_held_pct``).

``--quick`` is a smoke test of the harness (3 mailboxes per group, the messages delivered before the dev host
starts, a scheduler firing every 2 seconds, no warm-up cycle): it runs in seconds and its figures mean nothing.
The last line printed is one JSON object (ARCHITECTURE.md §8).

    python -m bench.latency [--duration 600] [--mailboxes 200] [--per-mailbox 2] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from types import ModuleType
from typing import Any

import uvicorn

from bench.corpus import log
from bench.crm import user_mailbox
from devstack import free_port
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from devstack.stack import LocalStack
from sync.api.app import create_app
from sync.auth.secrets import SecretBox, new_key, seal_field
from sync.devhost import DevHost
from sync.incoming.worker import CycleReport
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow
from sync.model.options import CredentialRetrieval, ExchangeApi, ServerType
from sync.model.profile import TlsMode
from sync.settings import Settings, load_settings
from sync.store import Store
from tests.graph.server import GraphServer

TENANT = "bench-latency"
PASSWORD = "bench-password"
GROUPS = ("push", "graph_poll", "imap")
DYNAMICS_CYCLES_PER_HOUR = 12  # Dynamics polls a mailbox every 5 minutes at best (R-SCH-4: 5 to 12)
READY_TIMEOUT_S = 60.0
QUICK_SCHEDULE = "*/2 * * * * *"


@dataclass
class Group:
    name: str
    mailboxes: list[Mailbox] = field(default_factory=list)
    arrivals: dict[str, datetime] = field(default_factory=dict)  # Message-ID -> delivered to the mail server
    recipients: dict[str, str] = field(default_factory=dict)  # Message-ID -> its mailbox's id

    @property
    def ids(self) -> set[str]:
        return {m.id for m in self.mailboxes}


class _Api(uvicorn.Server):
    """The admin API in a thread (Graph POSTs notifications to it); an event once it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.accepting = threading.Event()

    def install_signal_handlers(self) -> None:
        """Not the main thread."""

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.accepting.set()


@dataclass(frozen=True)
class CycleRecord:
    """One cycle of a mailbox as the worker reported it: what a slow message's trace is read against."""

    started: datetime
    ended: datetime
    report: CycleReport

    def line(self) -> str:
        r = self.report
        reasons = ",".join(f"{k}={v}" for k, v in sorted(r.reasons.items()))
        error = f" error={r.error}" if r.error else ""
        return (f"{self.started:%H:%M:%S.%f}"[:-3] + f"-{self.ended:%H:%M:%S} {r.status} listed={r.listed} "
                f"fetched={r.fetched} tracked={r.tracked} not_tracked={r.not_tracked} revisited={r.revisited} "
                f"retried={r.retried} more={r.more_pending} held={r.budget_held} [{reasons}]{error}")  # fmt: skip


class CycleCounter:
    """Counts the incoming cycles the worker ran, per mailbox (one IMAP login each), and those after which the
    poll budget held the next poll back (later than the adaptive polling asked); keeps every cycle's record
    in memory for the traces of the slowest messages."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.held: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()  # cycles refused (a connection slot, the server's throttling)
        self.streak: Counter[str] = Counter()  # refused cycles in a row, now
        self.longest_streak: Counter[str] = Counter()  # the most refused cycles in a row: how unfair the wait was
        self.history: dict[str, list[CycleRecord]] = {}
        self._lock = threading.Lock()
        self.counting = False

    def wrap(self, app: ModuleType) -> None:
        worker = app.services.worker
        run = worker.run

        def counted(item: Any) -> CycleReport:
            started = utcnow()
            report: CycleReport = run(item)
            with self._lock:
                self.history.setdefault(item.mailbox_id, []).append(CycleRecord(started, utcnow(), report))
                if self.counting and report.status == "throttled":
                    self.throttled[item.mailbox_id] += 1
                    self.streak[item.mailbox_id] += 1
                    longest = max(self.longest_streak[item.mailbox_id], self.streak[item.mailbox_id])
                    self.longest_streak[item.mailbox_id] = longest
                elif report.status != "stale":
                    self.streak[item.mailbox_id] = 0
                if self.counting and report.status == "processed":
                    self.counts[item.mailbox_id] += 1
                    self.held[item.mailbox_id] += report.budget_held
            return report

        worker.run = counted


def message(to: str, n: int) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = "Carol <carol@fabrikam.test>"
    msg["To"] = to
    msg["Subject"] = f"latency {n}"
    msg["Message-ID"] = make_msgid(domain="fabrikam.test")
    msg.set_content("A message whose arrival-to-tracked time is measured.")
    return msg.as_bytes(), str(msg["Message-ID"])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextlib.contextmanager
def app_environment(settings: Settings) -> Iterator[ModuleType]:
    """``function_app`` imported with ``settings`` in the environment, as the Functions host would load it."""
    assert settings.storage_connection_string is not None
    values = {
        "AzureWebJobsStorage": settings.storage_connection_string.get_secret_value(),
        "SYNC_SECRET_ENCRYPTION_KEY": settings.secret_encryption_key.get_secret_value(),
        "SYNC_STORAGE_PREFIX": settings.storage_prefix,
        "SYNC_EXTRA_CA_FILE": settings.extra_ca_file or "",
        "SYNC_ENTRA_AUTHORITY": settings.entra_authority or "",
        "SYNC_ALLOW_LOOPBACK_MAIL_HOSTS": "true",
        "SYNC_GRAPH_NOTIFICATION_URL": settings.graph_notification_url or "",
        "SYNC_MAILBOX_SCHEDULE": settings.mailbox_schedule,
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        sys.modules.pop("function_app", None)
        yield importlib.import_module("function_app")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def profiles(
    store: Store, box: SecretBox, graph: GraphServer, imap_port: int, graph_connections: int
) -> tuple[EmailServerProfile, ...]:
    """The Graph profile's mailboxes share its ``graph_connections`` (R-SCH-10, server-to-server: per profile);
    the IMAP mailboxes log in with their own credentials (counted per mailbox)."""
    graph_profile = EmailServerProfile(
        max_concurrent_connections=graph_connections,
        name="Exchange Online through Graph",
        server_type=ServerType.EXCHANGE_ONLINE,
        exchange_api=ExchangeApi.GRAPH,
        graph_url=graph.base_url,
        incoming_credential_retrieval=CredentialRetrieval.SERVER_TO_SERVER,
        exchange_online_tenant_id=TENANT,
        oauth_client_id=CLIENT_ID,
    )
    seal_field(box, graph_profile, "oauth_client_secret", CLIENT_SECRET)
    imap_profile = EmailServerProfile(
        name="IMAP", server_type=ServerType.IMAP_SMTP, incoming_server_location="localhost",
        incoming_port=imap_port, incoming_tls=TlsMode.IMPLICIT,
    )  # fmt: skip
    return store.profiles.insert(graph_profile), store.profiles.insert(imap_profile)


def imap_mailbox(store: Store, box: SecretBox, profile: EmailServerProfile, address: str) -> Mailbox:
    mailbox = user_mailbox(store, profile, address, address)
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.allow_credentials_for_email_processing = True
    mailbox.username = address
    seal_field(box, mailbox, "password", PASSWORD)
    store.mailboxes.update(mailbox)
    return mailbox


def tracked(store: Store, group: Group) -> dict[str, datetime]:
    """Message-ID -> created_on of its email activity, for the group's messages tracked so far."""
    found: dict[str, datetime] = {}
    for mailbox_id in group.ids:
        for email in store.emails.query("receiving_mailbox_id eq @m", {"m": mailbox_id}):
            if email.message_id in group.arrivals:
                found[email.message_id] = email.created_on
    return found


def start(host: DevHost, servers: contextlib.ExitStack) -> None:
    """The dev host's timers and queue pollers in the background, until the run ends."""
    threads = host.start_background()

    def join() -> None:
        for thread in threads:
            thread.join(READY_TIMEOUT_S)

    servers.callback(join)
    servers.callback(host.stop)  # runs first: stop, then wait for the pollers, then stop the servers


@dataclass
class World:
    stack: LocalStack
    graph: GraphServer
    settings: Settings
    store: Store
    box: SecretBox
    app: ModuleType


def start_world(servers: contextlib.ExitStack, quick: bool) -> World:
    """The servers, the app (as the Functions host loads it) and its admin API on a free port."""
    log("==> starting Azurite, Dovecot, the Entra ID mock and the Graph test server")
    stack = servers.enter_context(LocalStack(users={}))
    entra = servers.enter_context(EntraMock(stack.work_dir / "entra", stack.ca, tenant=TENANT))
    graph = servers.enter_context(GraphServer(stack.ca, f"{entra.authority}/{TENANT}/discovery/v2.0/keys"))
    port = free_port()
    settings = load_settings(
        storage_connection_string=stack.azurite.connection_string,
        secret_encryption_key=new_key(),
        storage_prefix="lat" + uuid.uuid4().hex[:6],
        extra_ca_file=str(stack.ca.ca_cert),
        entra_authority=entra.authority,
        allow_loopback_mail_hosts=True,
        graph_notification_url=f"http://127.0.0.1:{port}/api/push/graph",
        mailbox_schedule=QUICK_SCHEDULE if quick else "0 */1 * * * *",
    )
    store = Store.from_settings(settings)
    store.account.ensure_created()
    app = servers.enter_context(app_environment(settings))
    api = _Api(uvicorn.Config(create_app(settings, lambda: store), host="127.0.0.1", port=port,
                              log_level="warning", lifespan="off"))  # fmt: skip
    api_thread = threading.Thread(target=api.run, name="latency-api", daemon=True)
    api_thread.start()
    servers.callback(api_thread.join, READY_TIMEOUT_S)
    servers.callback(setattr, api, "should_exit", True)
    if not api.accepting.wait(READY_TIMEOUT_S):
        raise RuntimeError("the admin API did not start")
    return World(stack, graph, settings, store, SecretBox(settings.aes_key()), app)


def create_groups(world: World, count: int, graph_connections: int) -> dict[str, Group]:
    """``count`` mailboxes per group; the push group's subscribed as Test & Enable subscribes them."""
    graph_profile, imap_profile = profiles(
        world.store, world.box, world.graph, world.stack.dovecot.imaps_port, graph_connections
    )
    groups = {name: Group(name) for name in GROUPS}
    log(f"==> creating {count} mailboxes per group")
    for n in range(count):
        for name in ("push", "graph_poll"):
            address = f"{name.replace('_', '-')}-{n}@example.test"
            world.graph.add_mailbox(address)
            groups[name].mailboxes.append(user_mailbox(world.store, graph_profile, address, address))
        address = f"imap-{n}@example.test"
        world.stack.dovecot.add_user(address, PASSWORD)
        groups["imap"].mailboxes.append(imap_mailbox(world.store, world.box, imap_profile, address))
    for mailbox in groups["push"].mailboxes:
        report = world.app.services.push_subscriber.ensure(mailbox, graph_profile, ["incoming"])
        if report.created != 1:
            raise RuntimeError(f"mailbox {mailbox.id} was not subscribed: {report.errors}")
    log(f"    {len(world.graph.notifier.subscriptions())} push subscriptions")
    return groups


def arrive_at_random(world: World, groups: dict[str, Group], per_mailbox: float, duration: float, seed: int) -> None:
    """Deliver the messages to the mail servers at uniformly random times over ``duration`` seconds."""
    rng = random.Random(seed)
    plan = []
    for group in groups.values():
        for n in range(max(1, round(len(group.mailboxes) * per_mailbox))):
            plan.append((rng.uniform(0, duration), group, rng.choice(group.mailboxes), n))
    plan.sort(key=lambda entry: entry[0])
    log(f"==> {len(plan)} messages arriving at random over {duration:.0f} s")

    def arrive(group: Group, mailbox: Mailbox, n: int) -> None:
        address = mailbox.email_address or ""
        raw, message_id = message(address, n)
        group.recipients[message_id] = mailbox.id
        group.arrivals[message_id] = utcnow()
        if group.name == "imap":
            world.stack.dovecot.deliver(address, raw)
        else:
            world.graph.deliver(address, raw)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for at, group, mailbox, n in plan:
            delay = started + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(arrive, group, mailbox, n)


def wait_tracked(store: Store, groups: dict[str, Group], tail: float, pause: float) -> dict[str, dict[str, datetime]]:
    """Each group's tracked messages, once all are (or ``tail`` seconds have passed)."""
    expected = sum(len(g.arrivals) for g in groups.values())
    deadline = time.monotonic() + tail
    while True:
        found = {name: tracked(store, group) for name, group in groups.items()}
        done = sum(len(f) for f in found.values())
        if done >= expected or time.monotonic() > deadline:
            return found
        log(f"    {done}/{expected} tracked")
        time.sleep(pause)


def figures(
    groups: dict[str, Group], found: dict[str, dict[str, datetime]], cycles: CycleCounter, calls: Counter[str],
    hours: float,
) -> dict[str, Any]:  # fmt: skip
    """Latency percentiles and the load per mailbox-hour, per group; the share of cycles whose next poll the
    poll budget held back."""
    result: dict[str, Any] = {}
    for name, group in groups.items():
        latencies = [(found[name][mid] - arrived).total_seconds() for mid, arrived in group.arrivals.items()
                     if mid in found[name]]  # fmt: skip
        result[f"{name}_p50_s"] = round(statistics.median(latencies), 1) if latencies else None
        result[f"{name}_p95_s"] = round(percentile(latencies, 0.95), 1) if latencies else None
        result[f"{name}_max_s"] = round(max(latencies), 1) if latencies else None
        result[f"{name}_untracked"] = len(group.arrivals) - len(latencies)
        mailbox_hours = len(group.mailboxes) * hours
        ran = sum(cycles.counts[i] for i in group.ids)
        result[f"{name}_cycles_per_mailbox_hour"] = round(ran / mailbox_hours, 1)
        held = sum(cycles.held[i] for i in group.ids)
        result[f"{name}_budget_held_pct"] = round(100 * held / ran, 1) if ran else None
        result[f"{name}_throttled_cycles"] = sum(cycles.throttled[i] for i in group.ids)
        result[f"{name}_most_refused_in_a_row"] = max((cycles.longest_streak[i] for i in group.ids), default=0)
        if name == "imap":
            result["imap_logins_per_mailbox_hour"] = result["imap_cycles_per_mailbox_hour"]
        else:
            used = sum(calls[(m.email_address or "").lower()] for m in group.mailboxes)
            result[f"{name}_calls_per_mailbox_hour"] = round(used / mailbox_hours, 1)
    return result


def traces(
    groups: dict[str, Group], found: dict[str, dict[str, datetime]], cycles: CycleCounter, slowest: int
) -> Iterator[str]:
    """For each group's untracked and ``slowest`` slowest messages: arrival, tracked time and every cycle of
    its mailbox (with the other messages that mailbox got), to tell a late cycle from a missed message."""
    for name, group in groups.items():
        latency = {mid: (found[name][mid] - at).total_seconds() for mid, at in group.arrivals.items()
                   if mid in found[name]}  # fmt: skip
        untracked = [mid for mid in group.arrivals if mid not in latency]
        worst = sorted(latency, key=latency.__getitem__, reverse=True)[:slowest]
        for mid in untracked + worst:
            mailbox_id = group.recipients[mid]
            yield (f"{name} {mid} mailbox={mailbox_id} arrived={group.arrivals[mid]:%H:%M:%S.%f} "
                   + (f"tracked={found[name][mid]:%H:%M:%S} latency={latency[mid]:.1f}s" if mid in latency
                      else "UNTRACKED"))  # fmt: skip
            for other, at in sorted(group.arrivals.items(), key=lambda entry: entry[1]):
                if group.recipients[other] == mailbox_id and other != mid:
                    done = found[name].get(other)
                    yield f"    other message arrived={at:%H:%M:%S.%f} tracked={done:%H:%M:%S}" if done else (
                        f"    other message arrived={at:%H:%M:%S.%f} UNTRACKED")  # fmt: skip
            for record in cycles.history.get(mailbox_id, []):
                yield "    cycle " + record.line()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds over which messages arrive")
    parser.add_argument("--mailboxes", type=int, default=200, help="mailboxes per group (push, graph_poll, imap)")
    parser.add_argument("--per-mailbox", type=float, default=2.0, help="messages per mailbox on average")
    parser.add_argument("--tail", type=float, default=900.0, help="most seconds to wait after the last arrival")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a smoke test of the harness: seconds, no figures")
    parser.add_argument(
        "--graph-connections",
        type=int,
        default=EmailServerProfile.model_fields["max_concurrent_connections"].default,
        help="the Graph profile's maxconcurrentconnections, shared by the push and graph_poll groups",
    )
    parser.add_argument("--trace", help="file for the slowest and untracked messages' cycle traces (default stderr)")
    parser.add_argument("--trace-slowest", type=int, default=5, help="slowest messages traced per group")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.mailboxes, args.per_mailbox, args.tail = 1.0, 3, 1.0, 120.0
    run_started = time.perf_counter()
    with contextlib.ExitStack() as servers:
        world = start_world(servers, args.quick)
        groups = create_groups(world, args.mailboxes, args.graph_connections)
        host = DevHost(world.app.app, world.settings)
        cycles = CycleCounter()
        cycles.wrap(world.app)
        if not args.quick:  # quick: the messages are in before the first cycles, so those find them
            log("==> warm-up: every mailbox's first cycle (it sets the watermarks)")
            world.app.services.scheduler.tick()
            for job in host.queues:
                job.drain()
            start(host, servers)
        world.graph.reset_calls()
        cycles.counting = True
        measure_started = time.monotonic()
        arrive_at_random(world, groups, args.per_mailbox, args.duration, args.seed)
        if args.quick:
            start(host, servers)
        log(f"==> all arrived after {time.monotonic() - measure_started:.0f} s; waiting until every one is tracked")
        found = wait_tracked(world.store, groups, args.tail, 2.0 if args.quick else 15.0)
        measured_s = time.monotonic() - measure_started
        cycles.counting = False
        calls = Counter(call.mailbox.lower() for call in world.graph.call_log if call.mailbox)
        budget = world.app.services.worker.poll_budget

    lines = list(traces(groups, found, cycles, args.trace_slowest))
    if args.trace:
        with open(args.trace, "w", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
    else:
        for line in lines:
            log(line)

    summary: dict[str, Any] = {
        "benchmark": "latency",
        "quick": bool(args.quick),
        "mailboxes_per_group": args.mailboxes,
        "messages": sum(len(g.arrivals) for g in groups.values()),
        "duration_s": args.duration,
        "measured_s": round(measured_s, 1),
        **figures(groups, found, cycles, calls, measured_s / 3600),
        "dynamics_cycles_per_mailbox_hour": DYNAMICS_CYCLES_PER_HOUR,
        "poll_budget_cycles_per_hour": budget.cycles_per_hour,  # as the app loaded its settings
        "poll_budget_burst_cycles": budget.burst,
        "graph_profile_connections": args.graph_connections,
        "run_s": round(time.perf_counter() - run_started, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
