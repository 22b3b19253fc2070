"""The demo's outgoing round on the session's servers: what it sends arrives, and the reply is tracked."""

from __future__ import annotations

import pytest

from devstack import Dovecot, SmtpServer, TestCA
from devstack.demo_send import customer_reply, send_demo_emails
from devstack.seed import DEMO_PASSWORD, DEMO_QUEUE, seed_demo_organization
from sync.incoming.worker import MailboxWorker
from sync.model.options import CorrelationMethod
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.services import Services, incoming_connectors
from sync.settings import Settings
from sync.store import Store

pytestmark = pytest.mark.integration


def test_demo_emails_arrive_with_tokens_and_a_reply_is_correlated(
    isolated_store: Store, settings: Settings, smtp_server: SmtpServer, dovecot: Dovecot, test_ca: TestCA
) -> None:
    smtp_server.add_user(DEMO_QUEUE[0], DEMO_PASSWORD)
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    services = Services(own, isolated_store)
    ports = {"imap_port": dovecot.imaps_port, "smtp_port": smtp_server.submission_port}
    demo = seed_demo_organization(isolated_store, services.secret_box, mail_host="localhost", **ports)
    for mailbox in demo.mailboxes:  # an approved mailbox sends once Test & Enable has passed (R-OUT-3)
        services.test_and_enable.run(mailbox.id)
    try:
        sent = send_demo_emails(services, demo, smtp_server)
    finally:
        services.outgoing_sender.close()
    assert [(s.label, s.outcome) for s in sent] == [
        ("Alice -> Carol (from a user)", "sent"),
        ("Support -> Dan (from a queue, Alice acting)", "sent"),
    ]
    first, second = sent
    assert first.subject == f"Your quote for 20 licences {first.tracking_token}"
    assert first.recipients == ("carol@fabrikam.test",) and "alice@example.test" in first.sender
    assert "support@example.test" in second.sender and "Sender: Alice Adams <alice@example.test>" in second.sender
    assert all(smtp_server.count_by_message_id(s.message_id) == 1 for s in sent)

    alice = demo.mailboxes[0]
    reply = customer_reply(first, mailbox=alice.email_address or "")
    assert f"In-Reply-To: {first.message_id}" in reply.raw.decode()
    dovecot.deliver(reply.mailbox, reply.raw)
    mailbox = schedule_now(isolated_store, alice.id)
    item = Scheduler(isolated_store, own, lambda item: None).claim(mailbox, demo.profile)
    MailboxWorker(isolated_store, own, services.secret_box, incoming_connectors()).run(item)
    (tracked,) = isolated_store.emails.query("message_id eq @m", {"m": reply.message_id})
    assert tracked.correlation_method is CorrelationMethod.IN_REPLY_TO
    assert tracked.correlated_activity_id == first.email_id
    assert tracked.regarding is not None and tracked.regarding.id == demo.accounts[0].id
