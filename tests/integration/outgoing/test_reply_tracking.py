"""A customer's reply to CRM mail is tracked by the incoming pipeline and correlated to what was sent.

The email is sent through the real sender to aiosmtpd; the reply is delivered into the user's Dovecot
mailbox and fetched over IMAP by the real incoming worker.
"""

from __future__ import annotations

import urllib.parse
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from azure.core.exceptions import ResourceNotFoundError

from sync.incoming.correlate import subject_key
from sync.incoming.dedupe import message_key
from sync.incoming.promote import SingleMessages
from sync.incoming.reasons import Reason
from sync.incoming.sent_lookup import named_email
from sync.incoming.worker import MailboxWorker
from sync.model import Email, Queue, SystemUser
from sync.model.fields import EntityRef
from sync.model.options import CorrelationMethod, EmailDirection
from sync.outgoing.submit import DraftSpec, PartyInput
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.services import incoming_connectors
from sync.store.names import Table
from sync.store.outbox import OutboxIndex
from tests.integration.outgoing.conftest import Outbox

pytestmark = pytest.mark.integration


def _reply(to: str, subject: str, in_reply_to: str | None) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = "Carol Clark <carol@fabrikam.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="fabrikam.test")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content("Thanks, we accept the quote.")
    return msg.as_bytes(), str(msg["Message-ID"])


def _sync(outbox: Outbox, mailbox_id: str) -> None:
    mailbox = schedule_now(outbox.store, mailbox_id)
    profile = outbox.store.get_profile(mailbox.email_server_profile_id or "")
    item = Scheduler(outbox.store, outbox.settings, lambda item: None).claim(mailbox, profile)
    report = MailboxWorker(outbox.store, outbox.settings, outbox.box, incoming_connectors()).run(item)
    assert report.status == "processed", report


def _tracked(outbox: Outbox, message_id: str) -> Email:
    (email,) = outbox.store.emails.query("message_id eq @m", {"m": message_id})
    return email


def test_replies_correlate_by_in_reply_to_and_by_token(outbox: Outbox) -> None:
    user, mailbox = outbox.mailbox()  # tracks only responses to CRM email (the default filtering method)
    address = mailbox.email_address or ""
    regarding = EntityRef(type=outbox.carol.entity_type, id=outbox.carol.id)
    sent = outbox.submit(user, outbox.carol, subject="Quote 7", regarding=regarding)
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]
    assert sent.message_id is not None and sent.tracking_token is not None
    arrived = outbox.smtp.by_message_id(sent.message_id)[0].data.decode()
    assert f"Subject: Quote 7 {sent.tracking_token}" in arrived

    # The token reply first: once tracked, a reply carries the token too and would be a candidate as well.
    by_token, token_id = _reply(address, f"RE: Quote 7 {sent.tracking_token}", None)
    outbox.dovecot.deliver(address, by_token)
    _sync(outbox, mailbox.id)
    by_header, header_id = _reply(address, "RE: Quote 7 (token removed by the customer)", sent.message_id)
    outbox.dovecot.deliver(address, by_header)
    _sync(outbox, mailbox.id)

    expected = {header_id: CorrelationMethod.IN_REPLY_TO, token_id: CorrelationMethod.TRACKING_TOKEN}
    for message_id, method in expected.items():
        reply = _tracked(outbox, message_id)
        assert reply.direction is EmailDirection.INCOMING
        assert (reply.correlation_method, reply.correlated_activity_id) == (method, sent.id)
        assert reply.regarding == regarding  # copied from the email the CRM sent (R-COR-7)
        assert reply.owner == EntityRef(type=user.entity_type, id=user.id)
    assert _tracked(outbox, header_id).parent_activity_id == sent.id


def _send(outbox: Outbox, user: SystemUser | Queue, subject: str) -> Email:
    """Created and sent in one call (no MessageIndex row: the Message-ID names the email), then delivered."""
    spec = DraftSpec(
        sender=EntityRef(type=user.entity_type, id=user.id),
        subject=subject,
        to=[PartyInput(ref=EntityRef(type=outbox.carol.entity_type, id=outbox.carol.id))],
        text_body="Our offer.",
    )
    email = outbox.emails().create_and_send(spec)
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]
    return outbox.get(email)


def test_a_reply_finds_the_email_its_in_reply_to_names_and_an_indexed_one(outbox: Outbox) -> None:
    """R-COR-2 with no MessageIndex row for our Message-ID; a row written for another one is still read."""
    user, mailbox = outbox.mailbox()
    address = mailbox.email_address or ""
    named = _send(outbox, user, "Offer 8")
    assert named.message_id == f"<{named.id}@{address.rpartition('@')[2]}>"
    assert outbox.store.message_index.find(message_key(named.message_id, b"")) is None
    draft = outbox.draft(user, subject="Offer 9")
    draft.message_id = f"<legacy.{uuid.uuid4().hex}@example.test>"  # not of our shape: SendEmail indexes it
    outbox.store.emails.update(draft)
    indexed = outbox.emails().send(draft.id)
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]
    assert outbox.store.message_index.find(message_key(indexed.message_id, b"")) is not None

    replies = {}
    for sent in (named, indexed):
        raw, reply_id = _reply(address, "RE: your offer (token removed)", sent.message_id)
        outbox.dovecot.deliver(address, raw)
        replies[reply_id] = sent.id
    _sync(outbox, mailbox.id)

    for reply_id, sent_id in replies.items():
        reply = _tracked(outbox, reply_id)
        assert (reply.correlation_method, reply.correlated_activity_id) == (CorrelationMethod.IN_REPLY_TO, sent_id)


def test_a_look_alike_in_reply_to_costs_one_read_and_correlation_goes_on(outbox: Outbox) -> None:
    user, mailbox = outbox.mailbox()
    address = mailbox.email_address or ""
    sent = _send(outbox, user, "Offer 10")
    nobody = f"<{uuid.uuid4()}@fabrikam.test>"  # our shape, no such email
    elsewhere = f"<{sent.id}@fabrikam.test>"  # names our email, which carries another Message-ID
    counter = outbox.store.account.counter
    for look_alike in (nobody, elsewhere):
        before = counter.total()
        assert named_email(outbox.store, look_alike) is None
        assert counter.total() - before == 1

    replies = []
    for look_alike in (nobody, elsewhere):
        raw, reply_id = _reply(address, f"RE: Offer 10 {sent.tracking_token}", look_alike)
        outbox.dovecot.deliver(address, raw)
        replies.append(reply_id)
    _sync(outbox, mailbox.id)

    for reply_id in replies:  # not by In-Reply-To: by the token, as for any unknown In-Reply-To
        reply = _tracked(outbox, reply_id)
        assert (reply.correlation_method, reply.correlated_activity_id) == (CorrelationMethod.TRACKING_TOKEN, sent.id)


def test_a_token_row_left_by_a_failed_create_and_send_is_ignored(outbox: Outbox) -> None:
    """The failed call's token row names no email; when the counter wraps and an email sent later carries the
    same token, a reply with it correlates to that email, whatever the order of the rows."""
    user, mailbox = outbox.mailbox()
    address = mailbox.email_address or ""
    draft = outbox.draft(user, subject="Offer 11")
    while draft.id < "8":  # an id in the upper half: each failed call below then sorts first at even odds or better
        draft = outbox.draft(user, subject="Offer 11")
    failing = outbox.emails()
    failing.outbox = OutboxIndex(outbox.store.account.tables.get_table_client("nosuchtable"))  # Azurite: 404
    token_rows = outbox.store.account.table(Table.TOKEN_INDEX)
    for _ in range(30):  # until the row naming no email sorts first (each try: even odds)
        subject = f"Lost {uuid.uuid4().hex}"
        to = [PartyInput(address="x@fabrikam.test")]
        spec = DraftSpec(sender=EntityRef(type=user.entity_type, id=user.id), subject=subject, to=to)
        with pytest.raises(ResourceNotFoundError):
            failing.create_and_send(spec)
        key = subject_key(subject, outbox.store.get_organization())
        (row,) = token_rows.query_entities("subject_key eq @k", parameters={"k": key})
        if row["RowKey"] < draft.id:
            break
    else:
        pytest.fail("no row naming no email sorted first")
    token = urllib.parse.unquote(row["PartitionKey"])
    assert outbox.store.emails.find(row["RowKey"], "email") is None
    sent = outbox.emails().send(draft.id, tracking_token=token)  # the same token, as after a wrap-around
    assert [r.outcome for r in outbox.drain(outbox.sender())] == ["sent"]

    raw, reply_id = _reply(address, f"RE: Offer 11 {token}", None)
    outbox.dovecot.deliver(address, raw)
    _sync(outbox, mailbox.id)

    reply = _tracked(outbox, reply_id)
    assert (reply.correlation_method, reply.correlated_activity_id) == (CorrelationMethod.TRACKING_TOKEN, sent.id)


def test_our_sent_email_promoted_by_its_user_is_not_tracked_twice(outbox: Outbox) -> None:
    """R-ACC-10: CheckPromoteEmail and DeliverPromoteEmail find the email its Message-ID names."""
    user, _ = outbox.mailbox()
    sent = _send(outbox, user, "Offer 12")
    assert sent.message_id is not None
    (arrived,) = outbox.smtp.by_message_id(sent.message_id)
    single = SingleMessages(outbox.store, outbox.settings)

    check = single.check_promote(sent.message_id)
    assert (check.should_promote, check.email_id) == (False, sent.id)
    dan = EntityRef(type=outbox.dan.entity_type, id=outbox.dan.id)
    outcome = single.deliver_promote(user.id, arrived.data, regarding=dan)
    assert (outcome.reason, outcome.email_id) == (Reason.ALREADY_PROCESSED, sent.id)
    assert outbox.get(sent).regarding == dan  # the user's choice of record, on the one email
    assert [e.id for e in outbox.store.emails.query("message_id eq @m", {"m": sent.message_id})] == [sent.id]
