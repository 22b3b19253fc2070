"""Benchmark: one scheduler tick over many mailboxes of which some are due.

The figure is the tick's time with ``--total`` mailboxes (default 100,000) of which ``--due`` (default 1,000)
are due, against the same tick with only the due mailboxes in total, measured in the same run on fresh
tables: ``ratio`` = tick_s / baseline_tick_s (lower is better; the target is at most 1.5). Also reported:
Table transactions per due mailbox (target at most 3).

Every mailbox has its due-index row, which is all a tick can read of a mailbox that is not due; the mailbox
rows of mailboxes that are not due are written only with ``--full`` (one request each, so slow here):
a tick never reads them, which the transaction count shows.

    python -m bench.schedule [--total 100000] [--due 1000] [--full]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

from azure.data.tables import UpdateMode

from bench import storage_rtt
from devstack.azurite import Azurite
from sync.auth.secrets import new_key
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, EntityType, ServerType
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.work import WorkItem
from sync.settings import load_settings
from sync.store import Store
from sync.store.due_index import row_key
from sync.store.names import Queue

BATCH = 100


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def populate(store: Store, total: int, due: int, *, full: bool) -> None:
    now = utcnow()
    profile = store.profiles.insert(EmailServerProfile(name="IMAP", server_type=ServerType.IMAP_SMTP))
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    for n in range(total):
        is_due = n < due
        mailbox_id = str(uuid.uuid4())
        # mailboxes that are not due stay so for the whole run (populating 100,000 takes minutes)
        when = now - timedelta(seconds=30) if is_due else now + timedelta(hours=6, minutes=n % 12)
        key = row_key(mailbox_id, when)
        if is_due or full:
            store.mailboxes.insert(Mailbox(
                id=mailbox_id, name=f"m{n}", email_address=f"m{n}@example.test",
                owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())),
                email_server_profile_id=profile.id, approval=EmailAddressApproval.APPROVED, due_row_key=key,
            ))  # fmt: skip
        shard = store.due_index.shard(mailbox_id)
        rows[shard].append({"PartitionKey": shard, "RowKey": key})
        if n and n % 10_000 == 0:
            log(f"    {n}/{total} mailboxes")
    table = store.due_index.table
    for shard_rows in rows.values():
        for start in range(0, len(shard_rows), BATCH):
            table.submit_transaction(
                [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in shard_rows[start : start + BATCH]]
            )


def tick(store: Store, settings_prefix: str) -> tuple[float, int, int]:
    del settings_prefix
    queue = store.account.queue(Queue.MAILBOX_WORK)

    def send(item: WorkItem) -> None:
        queue.send_message(item.model_dump_json())

    scheduler = Scheduler(store, load_settings(storage_connection_string="UseDevelopmentStorage=true",
                                               secret_encryption_key=new_key()), send)  # fmt: skip
    counter = store.account.counter
    before = counter.total("table")
    started = time.perf_counter()
    report = scheduler.tick()
    elapsed = time.perf_counter() - started
    return elapsed, report.dispatched, counter.total("table") - before


def run(storage: str, total: int, due: int, *, full: bool) -> tuple[float, int, int]:
    settings = load_settings(storage_connection_string=storage, secret_encryption_key=new_key(),
                             storage_prefix="s" + uuid.uuid4().hex[:8])  # fmt: skip
    store = Store.from_settings(settings)
    store.account.ensure_created()
    log(f"==> {total} mailboxes, {due} due: populating")
    populate(store, total, due, full=full)
    log("==> one tick")
    return tick(store, settings.storage_prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1_000)
    parser.add_argument("--full", action="store_true", help="also write the rows of mailboxes that are not due")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    with (
        Azurite(Path(tempfile.mkdtemp(prefix="bench-schedule-")), in_memory=True) as azurite,
        storage_rtt.storage_connection(azurite, args.storage_rtt_ms) as storage,
    ):
        base_s, base_dispatched, _ = run(storage, args.due, args.due, full=True)
        tick_s, dispatched, table_tx = run(storage, args.total, args.due, full=args.full)
    if dispatched != args.due or base_dispatched != args.due:
        raise SystemExit(f"expected {args.due} dispatched, got {dispatched} and {base_dispatched}")
    print(json.dumps({
        "benchmark": "schedule", "n": args.total, "storage_rtt_ms": args.storage_rtt_ms, "due": args.due,
        "tick_s": round(tick_s, 3),
        "baseline": f"the same tick with {args.due} mailboxes in total", "baseline_tick_s": round(base_s, 3),
        "ratio": round(tick_s / base_s, 3), "tx_per_due_mailbox": round(table_tx / args.due, 2),
        "full_mailbox_rows": args.full,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
