"""A customer's reply to CRM mail is tracked by the incoming pipeline and correlated to what was sent.

The email is sent through the real sender to aiosmtpd; the reply is delivered into the user's Dovecot
mailbox and fetched over IMAP by the real incoming worker.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from sync.incoming.worker import MailboxWorker
from sync.model import Email
from sync.model.fields import EntityRef
from sync.model.options import CorrelationMethod, EmailDirection
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.services import incoming_connectors
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
