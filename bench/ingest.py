"""Benchmark: N messages through the full incoming pipeline (IMAP and POP3) into Azurite.

Baseline, measured in the same run on the same messages: fetch and parse with the same connectors, no
storage. Prints emails/s, the baseline, their ratio, Table transactions per email and peak RSS; the last
line is one JSON object (ARCHITECTURE.md §8).

    python -m bench.ingest [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import resource
import smtplib
import sys
import time
import uuid
from collections.abc import Iterable

from bench import storage_rtt
from bench.messages import generate
from devstack.stack import LocalStack
from sync.auth.secrets import SecretBox, new_key, seal_field
from sync.crm.records import RecordService
from sync.incoming.processor import IncomingProcessor
from sync.incoming.worker import MailboxWorker
from sync.mail.port import ExchangeConnector
from sync.mailboxes.credentials import incoming_connection
from sync.mailboxes.provisioning import Provisioning
from sync.model import Contact, EmailServerProfile, Mailbox, SystemUser
from sync.model.mailbox import FolderWatermark
from sync.model.options import EmailAddressApproval, FilteringMethod, ServerType
from sync.model.profile import TlsMode
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.services import incoming_connectors
from sync.settings import Settings, load_settings
from sync.store import Store

PASSWORD = "secret"
SENDERS = [f"contact{n}@customer{n % 7}.test" for n in range(50)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def deliver(stack: LocalStack, address: str, messages: Iterable[bytes]) -> None:
    """One LMTP session for all messages (much faster than one connection each)."""
    with smtplib.LMTP(stack.dovecot.host, stack.dovecot.lmtp_port, timeout=30) as lmtp:
        for raw in messages:
            lmtp.sendmail("bench@localhost", [address], raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def setup_mailbox(
    store: Store, box: SecretBox, stack: LocalStack, profile: EmailServerProfile, address: str
) -> Mailbox:
    stack.dovecot.add_user(address, PASSWORD)
    _, mailbox = Provisioning(store).create_user(
        SystemUser(
            full_name=address, internal_email_address=address, incoming_filtering_method=FilteringMethod.ALL_EMAIL
        )
    )
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.allow_credentials_for_email_processing = True
    mailbox.username = address
    seal_field(box, mailbox, "password", PASSWORD)
    store.mailboxes.update(mailbox)
    return schedule_now(store, mailbox.id)


def baseline(store: Store, settings: Settings, box: SecretBox, mailbox: Mailbox, profile: EmailServerProfile) -> float:
    """Fetch and parse every message with the same connector and parser; nothing is stored."""
    connector = incoming_connectors()[profile.server_type]
    assert not isinstance(connector, ExchangeConnector)  # this benchmark reads POP3 and IMAP
    processor = IncomingProcessor(store, settings, store.get_organization(), mailbox, profile)
    started = time.perf_counter()
    session = connector.open(incoming_connection(mailbox, profile, box, settings.extra_ca_file))
    listed = session.list_new(FolderWatermark(folder="INBOX"), frozenset())
    for remote in listed:
        processor.parse(session.fetch(remote))
    session.close()
    return len(listed) / (time.perf_counter() - started)


def pipeline(store: Store, settings: Settings, box: SecretBox, mailbox: Mailbox, n: int) -> tuple[float, int]:
    """Scheduler claims + worker cycles until the mailbox is drained; returns emails/s and table requests."""
    worker = MailboxWorker(store, settings, box, incoming_connectors())
    scheduler = Scheduler(store, settings, lambda item: None)
    counter = store.account.counter
    before = counter.total("table")
    started = time.perf_counter()
    tracked = 0
    while tracked < n:
        fresh = store.get_mailbox(mailbox.id)
        report = worker.run(scheduler.claim(fresh, store.get_profile(fresh.email_server_profile_id or "")))
        if report.status != "processed" or report.fetched == 0:
            raise RuntimeError(f"cycle did not progress: {report}")
        tracked += report.tracked
        log(f"    {tracked}/{n} tracked")
    elapsed = time.perf_counter() - started
    return n / elapsed, counter.total("table") - before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per mailbox (default 2000)")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    n = args.n
    results: dict[str, dict[str, float]] = {}
    with LocalStack(users={}) as stack, storage_rtt.storage_connection(stack.azurite, args.storage_rtt_ms) as conn:
        settings = load_settings(
            storage_connection_string=conn,
            secret_encryption_key=new_key(),
            storage_prefix="bench" + uuid.uuid4().hex[:6],
            extra_ca_file=str(stack.ca.ca_cert),
            max_emails_per_cycle=500,
            worker_budget_seconds=590,
        )
        store = Store.from_settings(settings)
        store.account.ensure_created()
        box = SecretBox(settings.aes_key())
        for sender in SENDERS:
            RecordService(store).create(Contact(last_name=sender.split("@")[0], email_address1=sender))
        profiles = {
            "imap": EmailServerProfile(
                name="IMAP",
                server_type=ServerType.IMAP_SMTP,
                incoming_server_location="localhost",
                incoming_port=stack.dovecot.imaps_port,
                incoming_tls=TlsMode.IMPLICIT,
            ),
            "pop3": EmailServerProfile(
                name="POP3",
                server_type=ServerType.POP3_SMTP,
                incoming_server_location="localhost",
                incoming_port=stack.dovecot.pop3s_port,
                incoming_tls=TlsMode.IMPLICIT,
            ),
        }
        for protocol, profile in profiles.items():
            store.profiles.insert(profile)
            address = f"{protocol}-bench@example.test"
            log(f"==> {protocol}: generating and delivering {n} messages")
            messages = generate(n, to=address, senders=SENDERS, seed=11 if protocol == "imap" else 13)
            mailbox = setup_mailbox(store, box, stack, profile, address)
            deliver(stack, address, messages)
            log(f"==> {protocol}: baseline (fetch + parse, no storage)")
            base = baseline(store, settings, box, mailbox, profile)
            log(f"==> {protocol}: full pipeline into Azurite")
            per_s, table_tx = pipeline(store, settings, box, mailbox, n)
            results[protocol] = {
                "per_s": round(per_s, 1),
                "baseline_per_s": round(base, 1),
                "ratio": round(per_s / base, 3),
                "table_tx_per_email": round(table_tx / n, 2),
            }
            log(f"    {protocol}: {results[protocol]}")
    per_s = sum(r["per_s"] for r in results.values()) / len(results)
    base = sum(r["baseline_per_s"] for r in results.values()) / len(results)
    summary = {
        "benchmark": "ingest",
        "n": n,
        "storage_rtt_ms": args.storage_rtt_ms,
        "per_s": round(per_s, 1),
        "baseline": "fetch+parse, no storage",
        "baseline_per_s": round(base, 1),
        "ratio": round(per_s / base, 3),
        "table_tx_per_email": max(r["table_tx_per_email"] for r in results.values()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "imap": results["imap"],
        "pop3": results["pop3"],
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
