"""Benchmark: one scheduler tick and the claims it fans out, over many mailboxes of which some are due.

The figure is the time from the timer's tick to the last due mailbox claimed (its lease taken, its due row
moved, its work item on the ``mailbox-work`` queue), with ``--total`` mailboxes (default 100,000) of which
``--due`` (default 10,000) are due. The tick runs as in Azure: the timer sends one ``mailbox-claims`` message
per due-index shard to the real queue (Azurite), and ``--claimers`` threads play the Functions host's queue
trigger instances, each taking a message, claiming its page (handing the rest of its shard on as a new
message) and deleting it. Baseline, same run, fresh tables: the same tick with only the due mailboxes in
total; ``ratio`` = tick_s / baseline_tick_s (lower is better). ``tx_per_due_mailbox`` counts every Table
and Queue request of the tick (the claim queue's sends, receives and deletes too) per due mailbox.

Due mailboxes are as a worker leaves them after a cycle: their due rows carry a claim ticket. With
``--no-tickets`` they are as ``schedule_now`` leaves them (each claim then reads the mailbox). The rows of
mailboxes that are not due are written only with ``--full``: a tick never reads them.

    python -m bench.schedule [--total 100000] [--due 10000] [--claimers 16] [--no-tickets] [--full]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.data.tables import UpdateMode

from devstack.azurite import Azurite
from sync.auth.secrets import new_key
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, EntityType, ServerType
from sync.scheduling import ticket
from sync.scheduling.scheduler import TickReport
from sync.scheduling.work import ShardWork, parse_work
from sync.services import Services
from sync.settings import Settings, load_settings
from sync.store import Store
from sync.store.due_index import row_key
from sync.store.names import Queue

BATCH = 100
POPULATE_THREADS = 16
IDLE_POLL_MIN_S, IDLE_POLL_MAX_S = 0.1, 2.0  # an idle queue trigger's polling back-off (host.json maxPollingInterval)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def populate(store: Store, total: int, due: int, *, full: bool, tickets: bool) -> None:
    now = utcnow()
    profile = store.profiles.insert(EmailServerProfile(name="IMAP", server_type=ServerType.IMAP_SMTP))
    org = store.get_organization()
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
            stored = store.mailboxes.insert(Mailbox(
                id=mailbox_id, name=f"m{n}", email_address=f"m{n}@example.test",
                owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())),
                email_server_profile_id=profile.id, approval=EmailAddressApproval.APPROVED, due_row_key=key,
            ))  # fmt: skip
            issued = ticket.issue(stored, profile, org) if tickets else None
            properties = issued.properties() if issued else {}
        shard = store.due_index.shard(mailbox_id)
        with lock:
            rows[shard].append({**properties, "PartitionKey": shard, "RowKey": key})
            done[0] += 1
            if done[0] % 10_000 == 0:
                log(f"    {done[0]}/{total} mailboxes")

    with ThreadPoolExecutor(POPULATE_THREADS) as pool:
        list(pool.map(mailbox, range(total)))
    table = store.due_index.table
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


def tick(store: Store, settings: Settings, claimers: int) -> Tick:
    """The timer's fan-out, then ``claimers`` host instances draining ``mailbox-claims`` until it is empty.

    An instance that finds the queue empty polls again after a growing pause (as the host does, up to
    ``maxPollingInterval``); the figure ends when the last claim is done, not when the instances stop.
    """
    services = Services(settings, store)
    scheduler = services.scheduler
    claims = store.account.queue(Queue.MAILBOX_CLAIMS)
    report, lock = TickReport(), threading.Lock()
    busy = [0]
    counter = store.account.counter
    last: list[tuple[float, int]] = []

    def instance() -> None:
        pause = IDLE_POLL_MIN_S
        while True:
            with lock:
                busy[0] += 1
            messages = list(claims.receive_messages(max_messages=1, visibility_timeout=300))
            if not messages:
                with lock:
                    busy[0] -= 1
                    if busy[0] == 0:
                        return  # the queue is empty and nobody is claiming a page that could hand more on
                time.sleep(pause)
                pause = min(pause * 2, IDLE_POLL_MAX_S)
                continue
            pause = IDLE_POLL_MIN_S
            part = scheduler.claim_shard(ShardWork.model_validate_json(messages[0].content))
            claims.delete_message(messages[0])
            with lock:
                report.add(part)
                busy[0] -= 1
                last[:] = [(time.perf_counter(), counter.total("table", "queue"))]

    before = counter.total("table", "queue")
    started = time.perf_counter()
    scheduler.fan_out()
    with ThreadPoolExecutor(claimers) as pool:
        for future in [pool.submit(instance) for _ in range(claimers)]:
            future.result()
    ended, requests = last[0]
    return Tick(ended - started, report, requests - before, _work_items(store))


def _work_items(store: Store) -> int:
    """The work items on the mailbox-work queue (read after the timing)."""
    queue = store.account.queue(Queue.MAILBOX_WORK)
    count = 0
    while True:
        messages = list(queue.receive_messages(max_messages=32, visibility_timeout=600))
        if not messages:
            return count
        count += sum(len(parse_work(m.content)) for m in messages)


def run(azurite: Azurite, total: int, due: int, *, full: bool, tickets: bool, claimers: int) -> Tick:
    settings = load_settings(storage_connection_string=azurite.connection_string, secret_encryption_key=new_key(),
                             storage_prefix="s" + uuid.uuid4().hex[:8])  # fmt: skip
    store = Store.from_settings(settings)
    store.account.ensure_created()
    log(f"==> {total} mailboxes, {due} due: populating")
    populate(store, total, due, full=full, tickets=tickets)
    log("==> one tick")
    return tick(store, settings, claimers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--claimers", type=int, default=16, help="queue trigger instances claiming at once")
    parser.add_argument("--no-tickets", action="store_true", help="due rows without claim tickets")
    parser.add_argument("--full", action="store_true", help="also write the rows of mailboxes that are not due")
    args = parser.parse_args(argv)
    tickets = not args.no_tickets
    with Azurite(Path(tempfile.mkdtemp(prefix="bench-schedule-")), in_memory=True) as azurite:
        base = run(azurite, args.due, args.due, full=True, tickets=tickets, claimers=args.claimers)
        measured = run(azurite, args.total, args.due, full=args.full, tickets=tickets, claimers=args.claimers)
    for result in (base, measured):
        if result.report.dispatched != args.due or result.work_items != args.due:
            raise SystemExit(f"expected {args.due} claimed, got {result.report} and {result.work_items} work items")
    print(json.dumps({
        "benchmark": "schedule", "n": args.total, "due": args.due, "tick_s": round(measured.seconds, 3),
        "baseline": f"the same tick with {args.due} mailboxes in total", "baseline_tick_s": round(base.seconds, 3),
        "ratio": round(measured.seconds / base.seconds, 3), "goal_tick_s": 60,
        "tx_per_due_mailbox": round(measured.requests / args.due, 3),
        "claimed_per_s": round(args.due / measured.seconds, 1), "by_ticket": measured.report.by_ticket,
        "claim_pages": measured.report.handed_on + 16, "work_messages": measured.report.messages,
        "claimers": args.claimers, "tickets": tickets, "full_mailbox_rows": args.full,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
