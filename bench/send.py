"""Benchmark: N emails queued by SendEmail and sent through the queue-triggered handler to aiosmtpd.

The handler is the Functions app's own ``send_outgoing``, driven as the host drives it: messages received
from the real Azurite queue 16 at a time, up to ``--concurrency`` invocations at once (the host's
``batchSize``), each message deleted after its invocation returns. Baseline, measured in the same run on
the same messages: a plain smtplib loop sending the already composed messages over one connection.

Prints emails/s, the baseline, their ratio and storage transactions per email of the sending phase
(Table + Queue: the claim, the confirm, the host's receive and delete; blobs aside); also the cost of
queueing them through the admin API's service and of the outbox sweep removing them afterwards. Half the
emails are created and sent in one call (``queue_api_*``, as ``POST /api/emails`` with ``"send": true``),
the other half created, then sent (``queue_api_two_call_*``). The last line is one JSON object
(ARCHITECTURE.md §8).

    python -m bench.send [--n 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import shutil
import smtplib
import sys
import tempfile
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from bench import storage_rtt
from devstack.azurite import Azurite
from devstack.certs import TestCA
from devstack.smtp import SmtpServer
from sync.api.emails import get_outgoing
from sync.auth.secrets import new_key, seal_field
from sync.crm.records import RecordService
from sync.mailboxes.provisioning import Provisioning
from sync.model import Contact, EmailServerProfile, SystemUser
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, EmailStatus, ServerType, TestStatus
from sync.model.profile import TlsMode
from sync.outgoing.compose import compose
from sync.outgoing.counter_blocks import CounterBlocks
from sync.outgoing.submit import LOST_MESSAGE_GRACE, DraftSpec, OutgoingEmails, PartyInput
from sync.outgoing.sweep import OutboxSweep
from sync.services import Services
from sync.store.names import Queue
from sync.store.read_cache import ReadCache

SENDER = "sales@example.test"
PASSWORD = "secret"
CONTACTS = 50
HOST_BATCH = 16  # host.json queues.batchSize
BODY = "<p>Dear customer,</p><p>thank you for your interest. Please find our offer below.</p>" * 6


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load_app(connection_string: str, prefix: str, ca_file: Path) -> ModuleType:
    """The Functions app, configured as the host configures it: from app settings in the environment."""
    os.environ.update(
        {
            "AzureWebJobsStorage": connection_string,
            "SYNC_SECRET_ENCRYPTION_KEY": new_key(),
            "SYNC_STORAGE_PREFIX": prefix,
            "SYNC_EXTRA_CA_FILE": str(ca_file),
            "SYNC_ALLOW_LOOPBACK_MAIL_HOSTS": "true",  # aiosmtpd listens on 127.0.0.1
        }
    )
    sys.modules.pop("function_app", None)
    return importlib.import_module("function_app")


def setup(services: Services, smtp: SmtpServer) -> tuple[SystemUser, list[Contact]]:
    store = services.store
    store.account.ensure_created()
    smtp.add_user(SENDER, PASSWORD)
    profile = store.profiles.insert(
        EmailServerProfile(
            name="Local SMTP",
            server_type=ServerType.IMAP_SMTP,
            outgoing_server_location="localhost",
            outgoing_port=smtp.submission_port,
            outgoing_tls=TlsMode.STARTTLS,
        )
    )
    user, mailbox = Provisioning(store).create_user(SystemUser(full_name="Sales", internal_email_address=SENDER))
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id, mailbox.approval = profile.id, EmailAddressApproval.APPROVED
    mailbox.allow_credentials_for_email_processing, mailbox.username = True, SENDER
    mailbox.outgoing_status = TestStatus.SUCCESS  # as after a Test & Enable (R-OUT-3)
    seal_field(services.secret_box, mailbox, "password", PASSWORD)
    store.mailboxes.update(mailbox)
    records = RecordService(store)
    contacts = [
        records.create(Contact(last_name=f"Customer {n}", email_address1=f"customer{n}@client{n % 7}.test"))
        for n in range(CONTACTS)
    ]
    return user, contacts


def queue_emails(
    outgoing: OutgoingEmails, user: SystemUser, contacts: list[Contact], numbers: range, *, one_call: bool
) -> list[str]:
    """Create and SendEmail emails as the admin API does, in one call or in two (create, then send)."""
    ids = []
    for i in numbers:
        to = [PartyInput(ref=EntityRef(type=contacts[i % CONTACTS].entity_type, id=contacts[i % CONTACTS].id))]
        spec = DraftSpec(
            sender=EntityRef(type=user.entity_type, id=user.id), subject=f"Offer {i}", to=to, html_body=BODY
        )
        email = outgoing.create_and_send(spec) if one_call else outgoing.send(outgoing.create_draft(spec).id)
        ids.append(email.id)
    return ids


def baseline(services: Services, smtp: SmtpServer, ca: TestCA, ids: list[str]) -> float:
    """The same messages, composed beforehand, sent by a plain smtplib loop over one connection."""
    org = services.store.get_organization()
    messages = []
    for email_id in ids:
        email = services.store.get_email(email_id)
        composed = compose(email, html=email.description, subject_limit=255, sent_on=utcnow())
        messages.append((composed.mail_from, list(composed.recipients), composed.data))
    assert org.maximum_subject_length_on_mail_server == 255  # the composed subjects used the default limit
    started = time.perf_counter()
    with smtplib.SMTP("localhost", smtp.submission_port, timeout=30) as client:
        client.starttls(context=ca.ssl_client_context())
        client.login(SENDER, PASSWORD)
        for mail_from, rcpt_tos, data in messages:
            client.sendmail(mail_from, rcpt_tos, data)
    return len(messages) / (time.perf_counter() - started)


def run_host(app: ModuleType, n: int, concurrency: int) -> float:
    """Receive, invoke ``send_outgoing``, delete: like the host, until ``n`` messages were handled."""
    handler = {f.get_function_name(): f for f in app.app.get_functions()}["send_outgoing"].get_user_function()
    queue = app.services.store.account.queue(Queue.OUTGOING_MAIL)

    def invoke(message: Any) -> None:
        handler(func.QueueMessage(id=message.id, body=message.content.encode(), pop_receipt=message.pop_receipt))
        queue.delete_message(message)

    handled = 0
    in_flight: set[Future[None]] = set()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        while handled < n:
            if len(in_flight) <= concurrency // 2:  # the host fetches a new batch when half of one is left
                batch = list(queue.receive_messages(messages_per_page=HOST_BATCH, visibility_timeout=300))
                in_flight |= {pool.submit(invoke, message) for message in batch}
                if not batch and not in_flight:
                    time.sleep(0.01)
                    continue
            done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
            handled += len(done)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="emails (default 1000)")
    parser.add_argument("--concurrency", type=int, default=HOST_BATCH, help="invocations at once (default 16)")
    storage_rtt.add_option(parser)
    args = parser.parse_args(argv)
    n = args.n
    work = Path(tempfile.mkdtemp(prefix="bench-send-"))
    try:
        ca = TestCA.create(work / "ca")
        with (
            Azurite(work / "azurite", in_memory=True) as azurite,
            storage_rtt.storage_connection(azurite, args.storage_rtt_ms) as storage,
            SmtpServer(ca) as smtp,
        ):
            app = load_app(storage, "bench" + uuid.uuid4().hex[:6], ca.ca_cert)
            services: Services = app.services
            counter = services.store.account.counter
            user, contacts = setup(services, smtp)

            store = services.store
            outgoing = get_outgoing(store, services.settings, ReadCache(store), CounterBlocks())
            ids: list[str] = []
            api: dict[bool, tuple[float, float]] = {}
            half = n // 2
            for one_call, numbers in ((True, range(n - half)), (False, range(n - half, n))):
                how = "create and send in one call" if one_call else "create, then send"
                log(f"==> queueing {len(numbers)} emails ({how})")
                counter.reset()
                started = time.perf_counter()
                ids += queue_emails(outgoing, user, contacts, numbers, one_call=one_call)
                api[one_call] = (
                    len(numbers) / (time.perf_counter() - started),
                    counter.total("table", "queue") / max(len(numbers), 1),
                )

            log("==> baseline: the same composed messages, plain smtplib, one connection")
            base = baseline(services, smtp, ca, ids)
            smtp.clear()

            log(f"==> the queue-triggered handler, {args.concurrency} invocations at once")
            counter.reset()
            elapsed = run_host(app, n, args.concurrency)
            counts = dict(counter.counts)
            services.outgoing_sender.close()
            per_s = n / elapsed

            statuses = {services.store.get_email(email_id).status for email_id in ids}
            delivered = {m.message_id for m in smtp.messages}
            if statuses != {EmailStatus.SENT} or len(smtp.messages) != n or len(delivered) != n:
                raise RuntimeError(f"not exactly once: {statuses}, {len(smtp.messages)} messages, {len(delivered)} ids")

            log("==> the outbox sweep, after the grace: every entry removed")
            counter.reset()
            later = utcnow() + LOST_MESSAGE_GRACE + timedelta(minutes=1)
            report = OutboxSweep(services.store, services.outgoing_sender, clock=lambda: later).run()
            sweep_tx = counter.total("table", "queue") / n
            if report.removed != n:
                raise RuntimeError(f"sweep removed {report.removed} of {n}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    summary = {
        "benchmark": "send",
        "n": n,
        "storage_rtt_ms": args.storage_rtt_ms,
        "per_s": round(per_s, 1),
        "baseline": "plain smtplib loop, one connection, the same composed messages",
        "baseline_per_s": round(base, 1),
        "ratio": round(per_s / base, 3),
        "storage_tx_per_email": round((counts.get("table", 0) + counts.get("queue", 0)) / n, 2),
        "table_tx_per_email": round(counts.get("table", 0) / n, 2),
        "queue_tx_per_email": round(counts.get("queue", 0) / n, 2),
        "concurrency": args.concurrency,
        "smtp_connections": services.outgoing_sender.pool.opened,
        "queue_api_per_s": round(api[True][0], 1),
        "queue_api_tx_per_email": round(api[True][1], 2),
        "queue_api_two_call_per_s": round(api[False][0], 1),
        "queue_api_two_call_tx_per_email": round(api[False][1], 2),
        "sweep_tx_per_email": round(sweep_tx, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
