"""``make demo``: start the local stack, seed a demo organization and show what was created.

Everything runs on this machine: Azurite for storage, Dovecot for IMAP/POP3, aiosmtpd for SMTP.
The stack is stopped at the end; nothing is left running.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from email import message_from_bytes
from typing import Any

from fastapi.testclient import TestClient

from devstack.demo_mail import DemoMessage, customer_reply_to, first_round
from devstack.seed import DemoOrganization, mail_accounts
from devstack.seed_api import seed_through_api
from devstack.stack import LocalStack
from sync.api.app import create_app
from sync.api.auth import API_KEY_HEADER, new_api_key
from sync.auth.secrets import new_key
from sync.devhost import DevHost
from sync.mailboxes import eligibility
from sync.model.fields import EntityRef, utcnow
from sync.scheduling.scheduler import schedule_now
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


def outcomes(store: Store, delivered: list[DemoMessage]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for item in delivered:
        emails = list(store.emails.query("message_id eq @m", {"m": item.message_id}))
        if emails:
            email = emails[0]
            regarding = _name(store, email.regarding)
            rows.append(
                (
                    item.label,
                    "tracked",
                    email.correlation_method.name.lower(),
                    regarding,
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


class Synchronizer:
    """Runs the Functions app's triggers through the dev host, a simulated minute at a time."""

    def __init__(self, host: DevHost, store: Store, mailbox_ids: list[str]) -> None:
        self.host, self.store, self.mailbox_ids, self.minutes = host, store, mailbox_ids, 0

    def run(self, *, now: bool = False) -> None:
        """Fire the timers due a minute later and drain every queue; ``now`` first makes every mailbox due."""
        if now:  # "synchronize now": the next tick takes every scheduled mailbox, whatever its polling interval
            for mailbox_id in self.mailbox_ids:
                if self.store.get_mailbox(mailbox_id).due_row_key is not None:
                    schedule_now(self.store, mailbox_id)
        self.minutes += 1
        report = self.host.run_once(utcnow() + timedelta(minutes=self.minutes))
        handled = ", ".join(f"{name} {count}" for name, count in report.messages_handled.items() if count)
        fired = ", ".join(report.timers_fired) or "none"
        print(f"    timers fired: {fired}; queue messages handled: {handled or 'none'}")


def send_crm_email(api: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """Create a draft and send it (SendEmail with issue-send): Pending Send, then the sender's queue."""
    draft = api.post("/api/emails", json=body)
    if draft.status_code != 201:
        raise RuntimeError(f"creating the email failed: {draft.status_code} {draft.text}")
    sent = api.post(f"/api/emails/{draft.json()['id']}/send", json={"issue_send": True})
    if sent.status_code != 200:
        raise RuntimeError(f"sending the email failed: {sent.status_code} {sent.text}")
    result: dict[str, Any] = sent.json()
    return result


def configure_environment(stack: LocalStack, api_key_digest: str) -> None:
    """The Functions app reads its settings from the environment, as it does in Azure."""
    os.environ.update(
        {
            "AzureWebJobsStorage": stack.azurite.connection_string,
            "SYNC_SECRET_ENCRYPTION_KEY": new_key(),
            "SYNC_STORAGE_PREFIX": "demo" + uuid.uuid4().hex[:6],
            "SYNC_EXTRA_CA_FILE": str(stack.ca.ca_cert),
            "SYNC_ALLOW_LOOPBACK_MAIL_HOSTS": "true",  # the local stack listens on 127.0.0.1
            "SYNC_API_KEYS": f"{api_key_digest}:admin+approver",  # the demo approves its own mailboxes
        }
    )
    os.environ.pop("AzureWebJobsStorage__accountName", None)


def main() -> int:  # noqa: PLR0915 (the demo reads as one story, top to bottom)
    started = time.monotonic()
    step("starting the local stack (Azurite, Dovecot, SMTP)")
    with LocalStack(users=mail_accounts()) as stack:
        for name, where in stack.endpoints().items():
            print(f"    {name:<20} {where}")
        api_key, digest = new_api_key()
        configure_environment(stack, digest)
        settings = load_settings()
        sys.modules.pop("function_app", None)
        function_app = importlib.import_module("function_app")
        store: Store = function_app.services.store
        step("creating tables, queues and containers; starting the dev host")
        store.account.ensure_created()
        host = DevHost(function_app.app, settings)
        print("    functions: " + ", ".join(f"{name} ({kind})" for name, kind in host.describe()))
        with TestClient(create_app(settings, lambda: store), headers={API_KEY_HEADER: api_key}) as api:
            step("seeding the demo organization through the admin API")
            ids = seed_through_api(
                api, mail_host="localhost", imap_port=stack.dovecot.imaps_port, smtp_port=stack.smtp.submission_port
            )
            mailboxes: dict[str, str] = ids["mailboxes"]
            step("Test & Enable (incoming login, outgoing test email to the mailbox itself)")
            rows = []
            for address, mailbox_id in mailboxes.items():
                result = api.post(f"/api/mailboxes/{mailbox_id}/test-and-enable").json()
                stored = store.get_mailbox(mailbox_id)
                verdict = "enabled" if result.get("succeeded") else str(result)[:80]
                rows.append((address, stored.incoming_status.name, stored.outgoing_status.name, verdict))
            table("Test & Enable", ["mailbox", "incoming", "outgoing", "result"], rows)
            sync = Synchronizer(host, store, list(mailboxes.values()))

            step("sending CRM email from a user and from a queue (through the outgoing-mail queue)")
            records = ids["records"]
            quote = send_crm_email(
                api,
                {
                    "from": {"type": "systemuser", "id": ids["users"]["alice@example.test"]},
                    "to": [{"type": "contact", "id": records["carol"]}],
                    "subject": "Your quote for 20 licences",
                    "html_body": "<p>Dear Carol,</p><p>our quote: 20 licences, EUR 4,800.</p>",
                    "regarding": {"type": "account", "id": records["fabrikam"]},
                },
            )
            support = send_crm_email(
                api,
                {
                    "from": {"type": "queue", "id": ids["queue"]},
                    "owner_user_id": ids["users"]["alice@example.test"],
                    "to": [{"type": "contact", "id": records["dan"]}],
                    "subject": "Your support request",
                    "html_body": "<p>Hello Dan,</p><p>we are on it.</p>",
                    "regarding": {"type": "account", "id": records["contoso"]},
                },
            )
            sync.run()
            sent_rows = []
            for email in (quote, support):
                stored_email = store.get_email(email["id"])
                arrived = stack.smtp.by_message_id(stored_email.message_id or "")
                subject = message_from_bytes(arrived[0].data).get("Subject", "") if arrived else ""
                sent_rows.append(
                    (
                        stored_email.status.name.lower(),
                        str(subject),
                        ", ".join(arrived[0].rcpt_tos) if arrived else "not delivered",
                    )
                )
            table("CRM email at the SMTP server", ["status", "subject (with tracking token)", "to"], sent_rows)

            step("round 1: a day's mail arrives in Dovecot; the scheduler timer and the workers run")
            delivered = first_round()
            for item in delivered:
                stack.dovecot.deliver(item.mailbox, item.raw)
            sync.run(now=True)

            step("round 2: Carol replies to Alice's quote; synchronize now")
            reply = customer_reply_to(store.get_email(quote["id"]).message_id or "")
            stack.dovecot.deliver(reply.mailbox, reply.raw)
            sync.run(now=True)

            table(
                "What the CRM tracked",
                ["message", "outcome", "correlation", "regarding", "accepted by"],
                outcomes(store, [*delivered, reply]),
            )
            alerts = api.get("/api/alerts").json()
            items = alerts.get("items", alerts) if isinstance(alerts, dict) else alerts
            shown = [(a["level"]["name"], str(a["text"])[:100]) for a in items]
            table("Alerts", ["level", "text"], shown or [("-", "none")])
        print(f"\nstorage requests: {dict(store.account.counter.counts)}")
        step("stopping the local stack")
    step(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
