"""``make demo``: start the local stack, seed a demo organization and show what was created.

Everything runs on this machine: Azurite for storage, Dovecot for IMAP/POP3, aiosmtpd for SMTP.
The stack is stopped at the end; nothing is left running.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterable, Sequence

from devstack.demo_mail import DemoMessage, first_round, reply_round
from devstack.seed import DemoOrganization, mail_accounts, seed_demo_organization
from devstack.stack import LocalStack
from sync.auth.secrets import new_key
from sync.mailboxes import eligibility
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EntityType
from sync.scheduling.scheduler import schedule_now
from sync.scheduling.work import WorkItem
from sync.services import Services
from sync.settings import load_settings
from sync.store import Store
from sync.store.names import Queue


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    cells = [list(map(str, header))] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def show(store: Store, demo: DemoOrganization) -> None:
    org = store.get_organization()
    now = utcnow()
    table(
        "Email server profile",
        ["name", "type", "incoming", "outgoing"],
        [
            (
                demo.profile.name,
                demo.profile.server_type.name,
                _endpoint(
                    demo.profile.incoming_server_location, demo.profile.incoming_port, demo.profile.incoming_tls.name
                ),
                _endpoint(
                    demo.profile.outgoing_server_location, demo.profile.outgoing_port, demo.profile.outgoing_tls.name
                ),
            ),
        ],
    )
    rows = []
    for mailbox in demo.mailboxes:
        stored = store.get_mailbox(mailbox.id)
        profile = store.find_profile(stored.email_server_profile_id or "")
        ready = eligibility.incoming(stored, profile, org, now)
        owner = stored.owner.type.name.lower() if stored.owner else "forward"
        rows.append(
            (
                stored.email_address,
                owner,
                stored.approval.name,
                "yes" if stored.password_is_set else "no",
                "eligible" if ready else ", ".join(ready.reasons),
            )
        )
    table("Mailboxes (one per user and queue)", ["address", "owner", "approval", "password", "incoming"], rows)
    people: list[tuple[str, str, str | None]] = [(u.full_name, "user", u.internal_email_address) for u in demo.users]
    people += [(q.name, "queue", q.email_address) for q in demo.queues]
    people += [(c.display_name, "contact", c.email_address1) for c in demo.contacts]
    people += [(a.name, "account", a.email_address1) for a in demo.accounts]
    people += [(lead.display_name, "lead", lead.email_address1) for lead in demo.leads]
    table("CRM records", ["name", "type", "email"], people)
    resolved = []
    for _, _, address in people:
        matches = store.address_index.lookup(address or "")
        resolved.append((address, ", ".join(f"{m.type.name.lower()}:{m.column}" for m in matches) or "unresolved"))
    table("Address index (one request per lookup)", ["address", "resolves to"], resolved)


def drain(services: Services, mailbox_ids: list[str]) -> None:
    """Synchronize now: schedule the mailboxes, then tick and run workers from the real queue until idle."""
    for mailbox_id in mailbox_ids:
        mailbox = services.store.get_mailbox(mailbox_id)
        if mailbox.due_row_key is not None:
            schedule_now(services.store, mailbox_id)
    queue = services.store.account.queue(Queue.MAILBOX_WORK)
    for _ in range(10):
        report = services.scheduler.tick()
        messages = list(queue.receive_messages(messages_per_page=32, visibility_timeout=60))
        if not messages:
            return
        print(f"    scheduler tick: {report.dispatched} mailboxes claimed")
        for message in messages:
            cycle = services.worker.run(WorkItem.model_validate_json(message.content))
            owner = services.store.get_mailbox(cycle.mailbox_id).email_address
            print(f"    {owner}: {cycle.fetched} fetched, {cycle.tracked} tracked, {cycle.not_tracked} not tracked")
            queue.delete_message(message)


def outcomes(store: Store, delivered: list[DemoMessage]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for item in delivered:
        emails = list(store.emails.query("message_id eq @m", {"m": item.message_id}))
        if emails:
            email = emails[0]
            regarding = store.find_record(email.regarding.type, email.regarding.id) if email.regarding else None
            rows.append(
                (
                    item.label,
                    "tracked",
                    email.correlation_method.name.lower(),
                    regarding.display_name if regarding else "",
                    _name(store, email.accepting_entity),
                )
            )
            continue
        failures = list(store.item_failures.query("message_id eq @m", {"m": item.message_id}))
        reason = failures[0].reason if failures else "not seen"
        rows.append((item.label, f"not tracked: {reason}", "", "", ""))
    return rows


def _endpoint(host: str | None, port: int | None, tls: str) -> str:
    return f"{host}:{port} ({tls})"


def _name(store: Store, ref: EntityRef | None) -> str:
    record = store.find_record(ref.type, ref.id) if ref else None
    return record.display_name if record else ""


def main() -> int:
    started = time.monotonic()
    step("starting the local stack (Azurite, Dovecot, SMTP)")
    with LocalStack(users=mail_accounts()) as stack:
        for name, where in stack.endpoints().items():
            print(f"    {name:<20} {where}")
        settings = load_settings(
            storage_connection_string=stack.azurite.connection_string,
            secret_encryption_key=new_key(),
            storage_prefix="demo" + uuid.uuid4().hex[:6],
            extra_ca_file=str(stack.ca.ca_cert),
        )
        step("creating tables, queues and containers")
        services = Services(settings)
        store = services.store
        store.account.ensure_created()
        step("seeding the demo organization")
        demo = seed_demo_organization(
            store,
            services.secret_box,
            mail_host="localhost",
            imap_port=stack.dovecot.imaps_port,
            smtp_port=stack.smtp.submission_port,
        )
        show(store, demo)
        mailbox_ids = [m.id for m in demo.mailboxes]

        step("round 1: delivering mail into Dovecot, then synchronizing")
        delivered = first_round()
        for item in delivered:
            stack.dovecot.deliver(item.mailbox, item.raw)
        drain(services, mailbox_ids)

        step("an agent sets the regarding record of the support email to the Fabrikam account")
        quote = delivered[0]
        (email,) = list(store.emails.query("message_id eq @m", {"m": quote.message_id}))
        email.regarding = EntityRef(type=EntityType.ACCOUNT, id=demo.accounts[0].id)
        store.emails.update(email)

        step("round 2: the customer replies to the CRM email")
        replies = reply_round(quote.message_id)
        for item in replies:
            stack.dovecot.deliver(item.mailbox, item.raw)
        drain(services, mailbox_ids)
        table(
            "What the CRM tracked",
            ["message", "outcome", "correlation", "regarding", "accepted by"],
            outcomes(store, delivered + replies),
        )
        print(f"\nstorage requests: {dict(store.account.counter.counts)}")
        step("stopping the local stack")
    step(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
