"""Benchmark: one scheduler tick and the claims it fans out, over many mailboxes of which some are due.

The figure is the time from the timer's tick to the last due mailbox claimed (its lease taken, its work
item on the ``mailbox-work`` queue, or ``act-work`` with ``--act``), with ``--total`` mailboxes (default
100,000) of which ``--due`` (default 10,000) are due. The tick runs as in Azure: the timer sends one
``mailbox-claims`` message per due-index shard to the real queue (Azurite), and ``--instances`` processes,
each handling ``--threads`` messages at a time, play the Functions host's queue trigger instances: take a
message, claim its page (handing the rest of the shard on as a new message), delete it. Baseline, same
run, fresh tables: the same tick with only the due mailboxes in total; ``ratio`` = tick_s /
baseline_tick_s (lower is better).
``tx_per_due_mailbox`` counts every Table and Queue request of the tick (the claim queue's sends,
receives, peeks and deletes too) per due mailbox.

Due mailboxes are as a worker leaves them after a cycle: their due rows carry a claim ticket. With
``--no-tickets`` they are as ``schedule_now`` leaves them (each claim then reads the mailbox). The rows of
mailboxes that are not due are written only with ``--full``: a tick never reads them.

``--act`` measures the ACT schedule instead: Exchange user mailboxes on the ACT due index, the
``schedule_act`` timer's fan-out (``act`` messages on the same ``mailbox-claims`` queue), the ACT lease,
the ACT worker's tickets. ``--storage-rtt-ms N`` puts the delaying proxy between the claimers (and the
timer) and Azurite; the tables are populated directly.

    python -m bench.schedule [--total 100000] [--due 10000] [--instances 4] [--threads 4] [--no-tickets] [--full]
                             [--act] [--storage-rtt-ms N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.data.tables import UpdateMode
from azure.storage.queue import QueueClient, QueueMessage

from bench import storage_rtt
from devstack.azurite import Azurite
from sync.auth.secrets import new_key
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import ActDeliveryMethod, EmailAddressApproval, EntityType, ServerType, TestStatus
from sync.scheduling import ticket
from sync.scheduling.claim_rules import ACT, INCOMING, ClaimRules
from sync.scheduling.claimer import Claimer, TickReport
from sync.scheduling.work import ShardWork, parse_work
from sync.services import Services
from sync.settings import Settings, load_settings
from sync.store import Store
from sync.store.due_index import row_key
from sync.store.names import Queue

BATCH = 100
POPULATE_THREADS = 16
CLAIM_VISIBILITY_S = 30  # host.json visibilityTimeout
WARM_UP = 500  # due mailboxes of an unreported first tick: Azurite's JIT warms up on it, not on the baseline
IDLE_POLL_MIN_S, IDLE_POLL_MAX_S = 0.1, 2.0  # an idle queue trigger's polling back-off (host.json maxPollingInterval)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def claimer_of(services: Services, rules: ClaimRules) -> Claimer:
    return services.act_scheduler if rules is ACT else services.scheduler


def populate(store: Store, total: int, due: int, *, full: bool, tickets: bool, rules: ClaimRules) -> None:
    now = utcnow()
    act = rules is ACT
    server_type = ServerType.EXCHANGE_SERVER if act else ServerType.IMAP_SMTP
    profile = store.profiles.insert(EmailServerProfile(name="Mail server", server_type=server_type))
    org = store.get_organization()
    index = store.act_due_index if act else store.due_index
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    done = [0]
    lock = threading.Lock()

    def mailbox(n: int) -> None:
        is_due = n < due
        mailbox_id = str(uuid.uuid4())
        # mailboxes that are not due stay so for the whole run (populating 100,000 takes minutes)
        when = now - timedelta(seconds=30) if is_due else now + timedelta(hours=6, minutes=n % 12)
        key = row_key(mailbox_id, when)
        properties: dict[str, Any] = {}
        if is_due or full:
            schedule: dict[str, Any] = (
                {"act_due_row_key": key, "act_method": ActDeliveryMethod.SERVER_SIDE_SYNC,
                 "act_status": TestStatus.SUCCESS}
                if act else {"due_row_key": key}
            )  # fmt: skip
            stored = store.mailboxes.insert(Mailbox(
                id=mailbox_id, name=f"m{n}", email_address=f"m{n}@example.test",
                owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())),
                email_server_profile_id=profile.id, approval=EmailAddressApproval.APPROVED, **schedule,
            ))  # fmt: skip
            issued = ticket.issue(stored, profile, org, rules) if tickets else None
            properties = issued.properties() if issued else {}
        shard = index.shard(mailbox_id)
        with lock:
            rows[shard].append({**properties, "PartitionKey": shard, "RowKey": key})
            done[0] += 1
            if done[0] % 10_000 == 0:
                log(f"    {done[0]}/{total} mailboxes")

    with ThreadPoolExecutor(POPULATE_THREADS) as pool:
        list(pool.map(mailbox, range(total)))
    table = index.table
    for shard_rows in rows.values():
        for start in range(0, len(shard_rows), BATCH):
            table.submit_transaction(
                [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in shard_rows[start : start + BATCH]]
            )


@dataclass
class Tick:
    seconds: float
    report: TickReport
    requests: int
    work_items: int
    claimer_cpu_s: float  # CPU time of the claiming instances
    azurite_cpu_s: float  # CPU time of Azurite during the tick


def process_cpu_s(pid: int) -> float:
    """User + system CPU time of a process and its children so far (Linux /proc)."""
    total = 0.0
    for candidate in [pid, *_children(pid)]:
        with open(f"/proc/{candidate}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


@dataclass(frozen=True)
class Shared:
    """What the instances share: a count of claimers at work, one lock, and the signals to start and stop."""

    busy: Any  # multiprocessing.Value("i")
    lock: Any  # multiprocessing.Lock
    ready: Any  # multiprocessing.Semaphore(0): released by each instance once it can claim
    go: Any  # multiprocessing.Event
    done: Any  # multiprocessing.Event


def delete_claimed(claims: QueueClient, message: QueueMessage) -> None:
    """Delete a handled claim message; one handled past its visibility timeout went to another claimer too
    (which found its mailboxes busy): the delete's PopReceiptMismatch is then expected."""
    try:
        claims.delete_message(message)
    except HttpResponseError as exc:
        if getattr(exc, "error_code", None) != "PopReceiptMismatch":
            raise
        log(f"    a page took over {CLAIM_VISIBILITY_S} s: its message went to another claimer too")


def instance(secrets: tuple[str, str, str], act: bool, threads: int, shared: Shared, results: Any) -> None:
    """One Functions instance: ``threads`` queue-trigger invocations at a time on ``mailbox-claims``.

    An invocation that finds the queue empty polls again after a growing pause (as the host does, up to
    ``maxPollingInterval``). The queue is drained when it is empty and no claimer anywhere is at work (a
    claimer at work may still hand a page on); that is decided under the shared lock.
    """
    connection, key, prefix = secrets
    settings = load_settings(storage_connection_string=connection, secret_encryption_key=key, storage_prefix=prefix)
    store = Store.from_settings(settings)
    scheduler = claimer_of(Services(settings, store), ACT if act else INCOMING)
    claims = store.account.queue(Queue.MAILBOX_CLAIMS)
    report, lock, last = TickReport(), threading.Lock(), [0.0]
    counter = store.account.counter

    def loop() -> None:
        pause = IDLE_POLL_MIN_S
        while not shared.done.is_set():
            with shared.lock:
                shared.busy.value += 1
            try:
                handled = take_one()
            except Exception:  # a failed claim: its message comes back after the visibility timeout
                traceback.print_exc()
                handled = True
            finally:
                with shared.lock:
                    shared.busy.value -= 1
                    if shared.busy.value == 0 and not claims.peek_messages(max_messages=1):
                        shared.done.set()
            if handled:
                pause = IDLE_POLL_MIN_S
            else:
                time.sleep(pause)
                pause = min(pause * 2, IDLE_POLL_MAX_S)

    def take_one() -> bool:
        messages = list(claims.receive_messages(max_messages=1, visibility_timeout=CLAIM_VISIBILITY_S))
        if not messages:
            return False
        part = scheduler.claim_shard(ShardWork.model_validate_json(messages[0].content))
        with lock:  # claimed, whatever becomes of the message
            report.add(part)
            last[0] = time.time()
        delete_claimed(claims, messages[0])
        return True

    store.get_organization()  # connected, and every module a claim needs imported
    shared.ready.release()
    shared.go.wait()
    before, cpu = counter.total("table", "queue"), time.process_time()
    try:
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(loop) for _ in range(threads)]:
                future.result()
    finally:  # the parent waits for every instance's figures, also when one failed
        shared.done.set()
        results.put((asdict(report), counter.total("table", "queue") - before, last[0], time.process_time() - cpu))


def tick(store: Store, settings: Settings, rules: ClaimRules, instances: int, threads: int, azurite_pid: int) -> Tick:
    """The timer's fan-out, then ``instances`` processes claiming until the claims queue is drained.

    ``store`` reaches Azurite directly (counting requests, reading the work back); ``settings`` name the
    storage the timer and the claimers use (through the delaying proxy with ``--storage-rtt-ms``)."""
    context = multiprocessing.get_context("spawn")
    shared = Shared(context.Value("i", 0), context.Lock(), context.Semaphore(0), context.Event(), context.Event())
    results = context.Queue()
    assert settings.storage_connection_string is not None
    secrets = (
        settings.storage_connection_string.get_secret_value(),
        settings.secret_encryption_key.get_secret_value(),
        settings.storage_prefix,
    )
    act = rules is ACT
    processes = [
        context.Process(target=instance, args=(secrets, act, threads, shared, results)) for _ in range(instances)
    ]
    for process in processes:
        process.start()
    for _ in processes:  # the timer fires once every instance is up, as on a warm Functions app
        shared.ready.acquire()
    timer_store = Store.from_settings(settings)
    counter = timer_store.account.counter
    timer = claimer_of(Services(settings, timer_store), rules)
    before, azurite_before = counter.total("table", "queue"), process_cpu_s(azurite_pid)
    started = time.time()
    timer.fan_out()
    shared.go.set()
    outcomes = [results.get() for _ in processes]
    azurite_cpu = process_cpu_s(azurite_pid) - azurite_before
    for process in processes:
        process.join()
    report = TickReport()
    for fields_of, _, _, _ in outcomes:
        report.add(TickReport(**fields_of))
    requests = counter.total("table", "queue") - before + sum(r for _, r, _, _ in outcomes)
    ended = max(end for _, _, end, _ in outcomes)
    claimer_cpu = sum(cpu for _, _, _, cpu in outcomes)
    work_queue = Queue.ACT_WORK if act else Queue.MAILBOX_WORK
    return Tick(ended - started, report, requests, _work_items(store, work_queue), claimer_cpu, azurite_cpu)


def _work_items(store: Store, work_queue: Queue) -> int:
    """The work items on the work queue (read after the timing)."""
    queue = store.account.queue(work_queue)
    count = 0
    while True:
        messages = list(queue.receive_messages(max_messages=32, visibility_timeout=600))
        if not messages:
            return count
        count += sum(len(parse_work(m.content)) for m in messages)


@dataclass(frozen=True)
class Setup:
    """What every run of one invocation shares: the workload, the storage the claimers use, their number."""

    azurite: Azurite
    connection: str  # direct, or through the delaying proxy
    rules: ClaimRules
    tickets: bool
    instances: int
    threads: int


def run(setup: Setup, total: int, due: int, *, full: bool) -> Tick:
    direct = load_settings(storage_connection_string=setup.azurite.connection_string,
                           secret_encryption_key=new_key(), storage_prefix="s" + uuid.uuid4().hex[:8])  # fmt: skip
    store = Store.from_settings(direct)
    store.account.ensure_created()
    log(f"==> {total} mailboxes, {due} due ({setup.rules.workload}): populating")
    populate(store, total, due, full=full, tickets=setup.tickets, rules=setup.rules)
    log("==> one tick")
    assert setup.azurite.pid is not None
    claimers = load_settings(storage_connection_string=setup.connection, storage_prefix=direct.storage_prefix,
                             secret_encryption_key=direct.secret_encryption_key.get_secret_value())  # fmt: skip
    return tick(store, claimers, setup.rules, setup.instances, setup.threads, setup.azurite.pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--instances", type=int, default=4, help="Functions instances (processes) claiming")
    parser.add_argument("--threads", type=int, default=4, help="claim messages each instance handles at once")
    parser.add_argument("--no-tickets", action="store_true", help="due rows without claim tickets")
    parser.add_argument("--full", action="store_true", help="also write the rows of mailboxes that are not due")
    parser.add_argument("--act", action="store_true", help="the ACT schedule (schedule_act) instead of incoming")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    tickets = not args.no_tickets
    with (
        Azurite(Path(tempfile.mkdtemp(prefix="bench-schedule-")), in_memory=True) as azurite,
        storage_rtt.storage_connection(azurite, args.storage_rtt_ms) as connection,
    ):
        rules = ACT if args.act else INCOMING
        setup = Setup(azurite, connection, rules, tickets, args.instances, args.threads)
        run(setup, min(args.due, WARM_UP), min(args.due, WARM_UP), full=True)
        base = run(setup, args.due, args.due, full=True)
        measured = run(setup, args.total, args.due, full=args.full)
    for result in (base, measured):
        if result.report.dispatched != args.due or result.work_items != args.due:
            raise SystemExit(f"expected {args.due} claimed, got {result.report} and {result.work_items} work items")
    print(json.dumps({
        "benchmark": "schedule", "workload": rules.workload, "n": args.total, "due": args.due,
        "storage_rtt_ms": args.storage_rtt_ms, "tick_s": round(measured.seconds, 3),
        "baseline": f"the same tick with {args.due} mailboxes in total", "baseline_tick_s": round(base.seconds, 3),
        "ratio": round(measured.seconds / base.seconds, 3), "goal_tick_s": 60,
        "tx_per_due_mailbox": round(measured.requests / args.due, 3),
        "claimed_per_s": round(args.due / measured.seconds, 1), "by_ticket": measured.report.by_ticket,
        "claim_pages": measured.report.handed_on + 16, "work_messages": measured.report.messages,
        "claimer_cpu_ms_per_claim": round(measured.claimer_cpu_s * 1000 / args.due, 2),
        "azurite_cpu_ms_per_claim": round(measured.azurite_cpu_s * 1000 / args.due, 2),
        "instances": args.instances, "threads_per_instance": args.threads, "tickets": tickets,
        "full_mailbox_rows": args.full,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
