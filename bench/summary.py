"""Benchmark: the organization summary (``GET /api/summary``) with 10,000 mailboxes.

Seeds ``--mailboxes`` mailboxes (default 10,000) over 10 profiles in Azurite, a sixth of them failing, and a full
day of 10-minute totals (every bucket and shard row present: the most a summary can read), then measures:

- the summary as the API serves it: the snapshot row plus the day's totals (mean over ``--calls`` requests);
- the baseline, a summary computed by scanning per request: the Mailboxes and Profiles tables for the states
  and failing profiles, ItemFailures and Emails of the last day for the email figures (only mailboxes are
  seeded, so the email scans are nearly free: the baseline's cost is a lower bound);
- the timer's refresh of the snapshot (one scan, every 5 minutes).

``ratio`` = call_s / baseline_call_s (lower is better); ``requests_per_call`` must not grow with the mailboxes.

    python -m bench.summary [--mailboxes 10000] [--calls 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from azure.data.tables import UpdateMode
from pydantic import SecretStr

from bench import storage_rtt
from devstack.azurite import Azurite
from sync.auth.secrets import new_key
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, EntityType, ServerType, TestStatus
from sync.operations.summary import build_snapshot, refresh_snapshot, summary
from sync.settings import load_settings
from sync.store import Store
from sync.store.sync_totals import BUCKET, COUNTERS, REASON_PREFIX, SHARDS, bucket_key, bucket_start

PROFILES = 10
REASONS = ("NoCorrelationMatch", "BounceNotCorrelated", "InternalEmailReject", "LoopDetected")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed_mailboxes(store: Store, count: int) -> None:
    now = utcnow()
    profiles = [
        store.profiles.insert(EmailServerProfile(name=f"IMAP {n}", server_type=ServerType.IMAP_SMTP)).id
        for n in range(PROFILES)
    ]

    def one(n: int) -> None:
        failing = n % 6 == 0
        store.mailboxes.insert(Mailbox(
            id=str(uuid.uuid4()), name=f"m{n}", email_address=f"m{n}@example.test",
            owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())),
            email_server_profile_id=profiles[n % PROFILES], approval=EmailAddressApproval.APPROVED,
            incoming_status=TestStatus.SUCCESS, outgoing_status=TestStatus.SUCCESS, mailbox_status=TestStatus.SUCCESS,
            last_sync_error="timed out" if failing else None, last_sync_error_count=3 if failing else 0,
            last_sync_error_occurred_on=now - timedelta(minutes=10) if failing else None,
        ))  # fmt: skip
        if n and n % 2000 == 0:
            log(f"    {n}/{count} mailboxes")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(count)))


def seed_day_of_totals(store: Store) -> int:
    """Every 10-minute bucket of the last day with all its shard rows: the most a summary reads."""
    rng = random.Random(7)
    now, rows = utcnow(), 0
    start = bucket_start(now - timedelta(days=1))
    bucket = start
    while bucket <= now:
        batch = []
        for shard in range(SHARDS):
            row: dict[str, object] = {"PartitionKey": bucket_key(bucket), "RowKey": f"{shard:02d}"}
            row.update({name: rng.randint(0, 40) for name in COUNTERS})
            row.update({f"{REASON_PREFIX}{reason}": rng.randint(0, 10) for reason in REASONS})
            batch.append(("upsert", row, {"mode": UpdateMode.REPLACE}))
        store.sync_totals.table.submit_transaction(batch)
        rows += len(batch)
        bucket += BUCKET
    return rows


def naive_summary(store: Store) -> None:
    """What a summary costs without the snapshot and the totals: scans on every request."""
    now = utcnow()
    build_snapshot(store, now)
    day_ago = {"t": now - timedelta(days=1)}
    list(store.item_failures.query("Timestamp ge @t", day_ago))
    list(store.emails.query("Timestamp ge @t", day_ago))


def measure(store: Store, call: object, calls: int) -> tuple[float, float]:
    """Mean seconds and storage requests per call."""
    assert callable(call)
    counter = store.account.counter
    before = counter.total()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls, (counter.total() - before) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--baseline-calls", type=int, default=3)
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    with (
        Azurite(Path(tempfile.mkdtemp(prefix="bench-summary-")), in_memory=True) as azurite,
        storage_rtt.storage_connection(azurite, args.storage_rtt_ms) as storage,
    ):
        settings = load_settings(storage_connection_string=azurite.connection_string, secret_encryption_key=new_key(),
                                 storage_prefix="m" + uuid.uuid4().hex[:8])  # fmt: skip
        store = Store.from_settings(settings)
        store.account.ensure_created()
        log(f"==> seeding {args.mailboxes} mailboxes and a day of totals")
        seed_mailboxes(store, args.mailboxes)
        total_rows = seed_day_of_totals(store)
        # seeded directly; measured as far from storage as --storage-rtt-ms puts it
        store = Store.from_settings(settings.model_copy(update={"storage_connection_string": SecretStr(storage)}))
        log("==> the timer's refresh")
        refresh_s, refresh_requests = measure(store, lambda: refresh_snapshot(store, utcnow()), 1)
        log(f"==> {args.calls} summaries")
        call_s, requests = measure(store, lambda: summary(store, utcnow()), args.calls)
        found = summary(store, utcnow())
        log(f"==> {args.baseline_calls} naive summaries")
        base_s, base_requests = measure(store, lambda: naive_summary(store), args.baseline_calls)
    if found["mailbox_states"]["mailboxes"] != args.mailboxes:
        raise SystemExit(f"the snapshot counted {found['mailbox_states']['mailboxes']} mailboxes")
    print(json.dumps({
        "benchmark": "summary", "n": args.mailboxes, "storage_rtt_ms": args.storage_rtt_ms,
        "call_s": round(call_s, 4), "requests_per_call": requests,
        "baseline": "states and counts computed by scanning per request", "baseline_call_s": round(base_s, 3),
        "baseline_requests_per_call": base_requests, "ratio": round(call_s / base_s, 4),
        "requests_ratio": round(requests / base_requests, 4), "totals_rows_seeded": total_rows,
        "snapshot_refresh_s": round(refresh_s, 3), "snapshot_refresh_requests": refresh_requests,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
