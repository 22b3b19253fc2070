"""Benchmark: "why was this email not tracked?" across every mailbox, through the index and by a scan.

Seeds ``--failures`` item failures (default 50,000) over ``--mailboxes`` mailboxes (default 10,000) in Azurite,
the noise written by transactions straight into ``ItemFailures`` (the index rows of other senders sit in other
partitions of ``NotTrackedIndex``: they cost a search nothing, so they are not written); then one sender's email
not tracked by ``--hits`` mailboxes (default 5), written through the repository as the pipeline writes it
(the failure and its index rows). Measures, over ``--calls`` searches:

- the search as the API serves it (``sync.insights.search``): the index partition, a point read per hit and
  the reads of each hit's explanation;
- the lookup alone (the index partition and a point read per hit, no explanation), the like of the baseline;
- the baseline in the same run: the same failures found by scanning ``ItemFailures`` with a server-side filter
  on the sender (what the search would cost without the index), without explanations.

``ratio`` = lookup_s / baseline_s (lower is better); ``requests_per_search`` must not grow with the failures.
Azurite answers a filtered scan in one request whatever the table's size; Azure Table Storage answers at most
1,000 entities or 5 seconds per request and ends a page at each partition boundary a cross-partition query
crosses, so there the baseline costs up to one request per mailbox with failures (``baseline_partitions``).

Seeding talks to Azurite directly; the measured writes and searches go as far from storage as
``--storage-rtt-ms`` puts them.

    python -m bench.not_tracked [--mailboxes 10000] [--failures 50000] [--hits 5] [--calls 20] [--storage-rtt-ms 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from bench import storage_rtt
from devstack.azurite import Azurite
from sync.auth.secrets import new_key
from sync.incoming.reasons import Reason
from sync.insights.facts import Explainer
from sync.insights.search import search
from sync.model import ItemFailure, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EntityType
from sync.settings import load_settings
from sync.store import Store
from sync.store.not_tracked_index import SearchKey
from sync.store.repository import Op

SENDER = "wanted@fabrikam.test"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def failure(mailbox_id: str, n: int, sender: str) -> ItemFailure:
    return ItemFailure(
        mailbox_id=mailbox_id, message_key=f"<{n}.{uuid.uuid4().hex}@x.test>", message_id=f"<{n}@x.test>",
        subject=f"Offer {n}", sender=sender, reason=Reason.NO_CORRELATION_MATCH.label,
        reason_code=int(Reason.NO_CORRELATION_MATCH), expires_on=utcnow() + timedelta(days=3),
    )  # fmt: skip


def seed(store: Store, mailboxes: int, failures: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(mailboxes)]

    def one_mailbox(n: int) -> None:
        mailbox_id = ids[n]
        owner = EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4()))
        store.mailboxes.insert(Mailbox(id=mailbox_id, name=f"m{n}", email_address=f"m{n}@example.test", owner=owner))
        count = failures // mailboxes + (1 if n < failures % mailboxes else 0)
        noise = [failure(mailbox_id, i, f"sender{i % 997}@elsewhere.test") for i in range(count)]
        store.item_failures.transact([(Op.UPSERT, f) for f in noise])
        if n and n % 2000 == 0:
            log(f"    {n}/{mailboxes} mailboxes")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one_mailbox, range(mailboxes)))
    return ids


def measure(store: Store, call: Callable[[], object], calls: int) -> tuple[float, float]:
    counter = store.account.counter
    assert counter is not None
    before = counter.total()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls, (counter.total() - before) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--failures", type=int, default=50_000)
    parser.add_argument("--hits", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--baseline-calls", type=int, default=3)
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    with (
        Azurite(Path(tempfile.mkdtemp(prefix="bench-not-tracked-")), in_memory=True) as azurite,
        storage_rtt.storage_connection(azurite, args.storage_rtt_ms) as storage,
    ):
        settings = load_settings(storage_connection_string=azurite.connection_string, secret_encryption_key=new_key(),
                                 storage_prefix="n" + uuid.uuid4().hex[:8])  # fmt: skip
        store = Store.from_settings(settings)
        store.account.ensure_created()
        log(f"==> seeding {args.mailboxes} mailboxes and {args.failures} item failures")
        ids = seed(store, args.mailboxes, args.failures)
        settings = settings.model_copy(update={"storage_connection_string": SecretStr(storage)})
        store = Store.from_settings(settings)
        log(f"==> {args.hits} failures of {SENDER}, written as the pipeline writes them")
        write_s, writes = measure(
            store, lambda: [store.item_failures.upsert(failure(ids[n], n, SENDER)) for n in range(args.hits)], 1
        )
        log(f"==> {args.calls} searches")

        def indexed() -> int:
            return len(search(Explainer(store, settings), {SearchKey.SENDER: SENDER}, limit=50))

        def lookup() -> int:
            hits = store.not_tracked_index.find(SearchKey.SENDER, SENDER, limit=50)
            return sum(store.item_failures.find(h.mailbox_id, h.row_key) is not None for h in hits)

        search_s, requests = measure(store, indexed, args.calls)
        lookup_s, lookup_requests = measure(store, lookup, args.calls)
        found = indexed()
        log(f"==> {args.baseline_calls} scans")

        def scanned() -> int:
            return len(list(store.item_failures.query("sender eq @s", {"s": SENDER})))

        base_s, base_requests = measure(store, scanned, args.baseline_calls)
        baseline_found = scanned()
    if found != args.hits or baseline_found != args.hits:
        raise SystemExit(f"found {found} by the index and {baseline_found} by the scan, not {args.hits}")
    print(json.dumps({
        "benchmark": "not_tracked", "n": args.failures, "storage_rtt_ms": args.storage_rtt_ms,
        "mailboxes": args.mailboxes, "hits": args.hits,
        "search_s": round(search_s, 4), "requests_per_search": requests, "lookup_s": round(lookup_s, 4),
        "lookup_requests": lookup_requests,
        "baseline": "ItemFailures scanned with a server-side filter on the sender, no explanation",
        "baseline_s": round(base_s, 3), "baseline_requests": base_requests, "baseline_partitions": args.mailboxes,
        "ratio": round(lookup_s / base_s, 4),
        "table_writes_per_failure": writes / args.hits, "write_s_per_failure": round(write_s / args.hits, 4),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
