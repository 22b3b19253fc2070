"""``make demo``: start the local stack, seed a demo organization and show what was created.

Everything runs on this machine: Azurite for storage, Dovecot for IMAP/POP3, aiosmtpd for SMTP.
The stack is stopped at the end; nothing is left running.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterable, Sequence

from devstack.seed import DemoOrganization, mail_accounts, seed_demo_organization
from devstack.stack import LocalStack
from sync.auth.secrets import SecretBox, new_key
from sync.mailboxes import eligibility
from sync.model.fields import utcnow
from sync.settings import load_settings
from sync.store import Store


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
    table("Email server profile", ["name", "type", "incoming", "outgoing"], [
        (demo.profile.name, demo.profile.server_type.name,
         f"{demo.profile.incoming_server_location}:{demo.profile.incoming_port} ({demo.profile.incoming_tls.name})",
         f"{demo.profile.outgoing_server_location}:{demo.profile.outgoing_port} ({demo.profile.outgoing_tls.name})"),
    ])  # fmt: skip
    rows = []
    for mailbox in demo.mailboxes:
        stored = store.get_mailbox(mailbox.id)
        profile = store.find_profile(stored.email_server_profile_id or "")
        ready = eligibility.incoming(stored, profile, org, now)
        owner = stored.owner.type.name.lower() if stored.owner else "forward"
        rows.append((stored.email_address, owner, stored.approval.name, "yes" if stored.password_is_set else "no",
                     "eligible" if ready else ", ".join(ready.reasons)))  # fmt: skip
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
        )
        step("creating tables, queues and containers")
        store = Store.from_settings(settings)
        store.account.ensure_created()
        step("seeding the demo organization")
        demo = seed_demo_organization(
            store, SecretBox(settings.aes_key()), mail_host="localhost",
            imap_port=stack.dovecot.imaps_port, smtp_port=stack.smtp.submission_port,
        )  # fmt: skip
        show(store, demo)
        print(f"\nstorage requests: {dict(store.account.counter.counts)}")
        step("stopping the local stack")
    step(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
