"""Benchmark: the console's Mailboxes grid (``GET /console/mailboxes``) with 10,000 mailboxes.

Seeds ``--mailboxes`` mailboxes (default 10,000) over 10 profiles in Azurite, a sixth of them failing, with an
open alert on every third, then measures the page as the browser gets it (signed in, rendered, through the app
in process), over ``--pages`` pages followed by their continuation:

- the grid: one page of 50 (the organization, one page of Mailboxes, the page's profiles, its open alerts in
  queries of 14 mailboxes, the profile list of the filter, the session);
- the grid filtered by state (``failing``) and searched by an address prefix;
- the baseline, measured in the same run: the same first page built the way a page without server-side paging
  would, from a scan of every mailbox and every open alert.

``ratio`` = page_s / baseline_page_s (lower is better); ``requests_per_page`` must not grow with the mailboxes.

Seeding talks to Azurite directly; the measured requests go as far from storage as ``--storage-rtt-ms`` puts it.

    python -m bench.console_grid [--mailboxes 10000] [--pages 10] [--storage-rtt-ms 0]
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
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from pydantic import SecretStr

from bench import storage_rtt
from bench.summary import seed_mailboxes
from devstack.azurite import Azurite
from sync.api.app import create_app
from sync.auth.secrets import new_key
from sync.console.grid import PAGE_SIZE, GridFilter, build_row, matches_state
from sync.console.local_link import LOCAL_ROLES, link_url
from sync.model import Alert
from sync.model.fields import EntityRef, utcnow
from sync.model.options import AlertLevel, EntityType
from sync.settings import load_settings
from sync.store import Store


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed_alerts(store: Store) -> int:
    mailboxes = [m for n, m in enumerate(store.mailboxes.query()) if n % 3 == 0]

    def one(mailbox_id: str) -> None:
        ref = EntityRef(type=EntityType.MAILBOX, id=mailbox_id)
        store.alerts.insert(Alert(level=AlertLevel.ERROR, code=1, text="The mailbox could not connect.",
                                  regarding=ref, mailbox_id=mailbox_id))  # fmt: skip

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, (m.id for m in mailboxes)))
    return len(mailboxes)


def walk(client: TestClient, store: Store, params: dict[str, str], pages: int) -> tuple[float, float, int]:
    """Mean seconds and storage requests per page over ``pages`` pages (or to the end); rows seen."""
    counter, seconds, requests, rows, done = store.account.counter, 0.0, 0, 0, 0
    query = dict(params)
    for _ in range(pages):
        before = counter.total()
        started = time.perf_counter()
        page = client.get("/console/mailboxes", params=query)
        seconds += time.perf_counter() - started
        requests += counter.total() - before
        done += 1
        if page.status_code != 200:
            raise SystemExit(f"the grid answered {page.status_code}: {page.text[:500]}")
        rows += page.text.count('<td data-label="Address">')
        following = [a for a in page.text.split('rel="next" href="')[1:]]
        if not following:
            break
        link = following[0].split('"')[0].replace("&amp;", "&")
        query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    return seconds / done, requests / done, rows


def naive_first_page(store: Store, wanted: GridFilter) -> int:
    """The first page the way a grid without server-side paging builds it: every mailbox and open alert read."""
    now, org = utcnow(), store.get_organization()
    profiles = {p.id: p for p in store.profiles.query()}
    counts: dict[str, int] = {}
    for alert in store.alerts.query("dismissed eq false"):
        counts[alert.regarding.id] = counts.get(alert.regarding.id, 0) + 1
    rows = [
        build_row(m, profiles.get(m.email_server_profile_id or ""), org, now, counts.get(m.id, 0))
        for m in store.mailboxes.query()
    ]
    return len([r for r in rows if matches_state(r, wanted.state)][:PAGE_SIZE])


def measure(store: Store, call: Callable[[], object], calls: int) -> tuple[float, float]:
    counter = store.account.counter
    before = counter.total()
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls, (counter.total() - before) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mailboxes", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--baseline-calls", type=int, default=2)
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    with (
        Azurite(Path(tempfile.mkdtemp(prefix="bench-console-")), in_memory=True) as azurite,
        storage_rtt.storage_connection(azurite, args.storage_rtt_ms) as storage,
    ):
        settings = load_settings(storage_connection_string=azurite.connection_string, secret_encryption_key=new_key(),
                                 storage_prefix="g" + uuid.uuid4().hex[:8])  # fmt: skip
        store = Store.from_settings(settings)
        store.account.ensure_created()
        log(f"==> seeding {args.mailboxes} mailboxes and their alerts")
        seed_mailboxes(store, args.mailboxes)
        alerts = seed_alerts(store)
        settings = settings.model_copy(update={"storage_connection_string": SecretStr(storage)})
        store = Store.from_settings(settings)
        app = create_app(settings, lambda: store)
        with TestClient(app) as client:
            token = app.state.console.sessions.mint_link("bench", "Bench", LOCAL_ROLES)
            client.get(link_url("", token))
            client.get("/console/mailboxes")  # templates compiled, connections open
            log(f"==> {args.pages} grid pages")
            page_s, requests, rows = walk(client, store, {}, args.pages)
            log("==> filtered by state and searched")
            failing_s, failing_requests, failing_rows = walk(client, store, {"state": "failing"}, args.pages)
            search_s, search_requests, search_rows = walk(client, store, {"q": "m99"}, 1)
        log(f"==> {args.baseline_calls} first pages from full scans")
        base_s, base_requests = measure(store, lambda: naive_first_page(store, GridFilter()), args.baseline_calls)
    if rows < min(args.mailboxes, PAGE_SIZE * args.pages) or search_rows == 0:
        raise SystemExit(f"the grid showed {rows} rows ({search_rows} searched)")
    print(json.dumps({
        "benchmark": "console_grid", "n": args.mailboxes, "storage_rtt_ms": args.storage_rtt_ms,
        "page_size": PAGE_SIZE, "pages": args.pages,
        "page_s": round(page_s, 4), "requests_per_page": requests,
        "baseline": "the first page built from a scan of every mailbox and open alert",
        "baseline_page_s": round(base_s, 3), "baseline_requests_per_page": base_requests,
        "ratio": round(page_s / base_s, 4), "requests_ratio": round(requests / base_requests, 4),
        "failing_page_s": round(failing_s, 4), "failing_requests_per_page": failing_requests,
        "failing_rows_per_page": round(failing_rows / args.pages, 1),
        "search_page_s": round(search_s, 4), "search_requests_per_page": search_requests, "search_rows": search_rows,
        "open_alerts_seeded": alerts,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
