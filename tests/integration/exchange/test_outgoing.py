"""Sending through Exchange (EWS and Graph), end to end: exactly once, a copy in Sent Items, a lost answer settled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sync.crm.records import RecordService
from sync.incoming.dedupe import message_key
from sync.model import Contact, Mailbox
from sync.model.email import Email, RecipientStatus
from sync.model.fields import EntityRef, utcnow
from sync.model.options import CorrelationMethod, EmailDirection, EmailStatus, EntityType, FilteringMethod
from sync.outgoing.submit import DraftSpec, OutgoingEmails, PartyInput
from sync.outgoing.sweep import OutboxSweep
from tests.integration.exchange.conftest import ALICE, BOB, Deployment, message
from tests.integration.exchange.doubles import Op

pytestmark = pytest.mark.integration


def send_from(deployment: Deployment, mailbox: Mailbox, subject: str, *, bcc: str | None = None) -> Email:
    """From ``mailbox`` to Carol (a contact) and Bob (a user with a mailbox on the same Exchange)."""
    bob_user = deployment.user_mailbox(BOB).owner
    assert mailbox.owner is not None and bob_user is not None
    hidden = []
    if bcc:
        dana = RecordService(deployment.store).create(Contact(last_name="Dana", email_address1=bcc))
        hidden = [PartyInput(ref=EntityRef(type=EntityType.CONTACT, id=dana.id))]
    spec = DraftSpec(
        sender=mailbox.owner,
        subject=subject,
        to=[PartyInput(ref=EntityRef(type=EntityType.CONTACT, id=deployment.contact.id)), PartyInput(ref=bob_user)],
        bcc=hidden,
        text_body="Please find the proposal attached.",
    )
    emails: OutgoingEmails = deployment.app.services.outgoing_emails
    return emails.send(emails.create_draft(spec).id)


def test_an_email_is_sent_once_with_our_message_id_and_a_copy_in_sent_items(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    email = send_from(deployment, mailbox, "Proposal", bcc="dana@fabrikam.test")

    deployment.run()

    sent = deployment.store.get_email(email.id)
    assert sent.status is EmailStatus.SENT
    [message] = deployment.server.sent()
    assert message.recipients == {"carol@fabrikam.test", BOB, "dana@fabrikam.test"}  # Bcc too
    copies = [mid for mid in deployment.server.message_ids(ALICE, "sentitems") if mid == email.message_id]
    assert len(copies) == 1  # R-OUT-7, carrying our Message-ID so replies correlate


def test_a_lost_answer_is_settled_from_sent_items_without_sending_twice(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    email = send_from(deployment, mailbox, "Lost answer")
    deployment.server.drop_next_send()  # Exchange sends it, the answer never arrives

    deployment.run()

    waiting = deployment.store.get_email(email.id)
    assert waiting.status is EmailStatus.PENDING_SEND and waiting.verify_sent_items
    assert len(deployment.server.sent()) == 1
    _due_now(deployment, waiting)

    deployment.run()

    settled = deployment.store.get_email(email.id)
    assert settled.status is EmailStatus.SENT and not settled.verify_sent_items
    assert {r.status for r in settled.recipient_results} == {RecipientStatus.ACCEPTED}
    assert len(deployment.server.sent()) == 1  # never sent a second time
    assert deployment.server.count(Op.SEND) == 1


def test_a_request_that_never_left_is_sent_on_the_retry(deployment: Deployment) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    email = send_from(deployment, mailbox, "Busy server")
    deployment.server.refuse_next_send()

    deployment.run()

    waiting = deployment.store.get_email(email.id)
    assert waiting.status is EmailStatus.PENDING_SEND and not waiting.verify_sent_items
    assert deployment.server.sent() == []
    _due_now(deployment, waiting)

    deployment.run()

    assert deployment.store.get_email(email.id).status is EmailStatus.SENT
    assert len(deployment.server.sent()) == 1


def _due_now(deployment: Deployment, email: Email) -> None:
    """Skip the back-off: the email is due now and its queue message is sent again."""

    def now(stored: Email) -> None:
        stored.postpone_email_processing_until = utcnow()

    deployment.app.services.outgoing_sender.enqueue(deployment.store.emails.modify(email.id, "email", now))


class Crash(BaseException):
    """The process dies: nothing after this line runs."""


def test_a_sender_that_died_after_exchange_took_the_message_never_sends_it_twice(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = deployment.user_mailbox(ALICE)
    email = send_from(deployment, mailbox, "Died after sending")
    outbox = deployment.server.outbox_class
    original = outbox.send

    def sends_then_dies(self: Any, data: bytes, *, save_copy: bool) -> None:
        original(self, data, save_copy=save_copy)
        raise Crash

    monkeypatch.setattr(outbox, "send", sends_then_dies)
    with pytest.raises(Crash):
        deployment.run()
    monkeypatch.setattr(outbox, "send", original)
    assert deployment.store.get_email(email.id).status is EmailStatus.SENDING

    def lease_ended(stored: Email) -> None:
        stored.send_lease_expires_on = utcnow() - timedelta(minutes=1)

    deployment.store.emails.modify(email.id, "email", lease_ended)
    later = utcnow() + timedelta(hours=1)  # the sweep's next run, past the outbox's grace period
    swept = OutboxSweep(deployment.store, deployment.app.services.outgoing_sender, clock=lambda: later).run()
    assert swept.expired == 1
    waiting = deployment.store.get_email(email.id)
    assert waiting.status is EmailStatus.PENDING_SEND and waiting.verify_sent_items
    _due_now(deployment, waiting)

    deployment.run()

    assert deployment.store.get_email(email.id).status is EmailStatus.SENT
    assert len(deployment.server.sent()) == 1


def test_our_email_found_in_sent_items_is_not_tracked_twice(deployment: Deployment) -> None:
    """R-ACC-10 / R-IN-5: the Sent Items copy carries our Message-ID, which names the email (no index row)."""
    org = deployment.store.get_organization()
    org.auto_track_sent_folder_items = True
    deployment.store.organization.upsert(org)
    mailbox = deployment.user_mailbox(ALICE)
    email = send_from(deployment, mailbox, "Proposal, sent and in Sent Items")
    deployment.run()
    assert email.message_id in deployment.server.message_ids(ALICE, "sentitems")
    assert deployment.store.message_index.find(message_key(email.message_id or "", b"")) is None

    deployment.cycle(mailbox)  # reads Alice's Sent Items

    tracked = [deployment.store.get_email(i) for i in deployment.emails(email.message_id or "")]
    assert [e.id for e in tracked if e.direction is EmailDirection.OUTGOING] == [email.id]


def test_a_reply_that_lost_every_header_finds_the_crm_email_by_subject_and_addresses(deployment: Deployment) -> None:
    """R-COR-15, R-OUT-6: with smart matching on, an email sent from the CRM is in the smart-match index too."""
    org = deployment.store.get_organization()
    org.enable_smart_matching = True
    deployment.store.organization.upsert(org)
    mailbox = deployment.user_mailbox(ALICE, FilteringMethod.RESPONSES_TO_CRM_EMAIL)
    sent = send_from(deployment, mailbox, "Pricing for Fabrikam")
    deployment.run()
    assert deployment.store.get_email(sent.id).status is EmailStatus.SENT
    # Carol answers from a client that keeps neither the token nor In-Reply-To, References or Thread-Index
    reply, reply_id = message(ALICE, sender="carol@fabrikam.test", subject="RE: Pricing for Fabrikam")
    deployment.server.deliver(ALICE, reply)

    deployment.cycle(mailbox)

    [tracked] = deployment.emails(reply_id)
    email = deployment.store.get_email(tracked)
    assert (email.correlation_method, email.correlated_activity_id) == (CorrelationMethod.SMART_MATCHING, sent.id)
