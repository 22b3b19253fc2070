"""Sending end to end: SendEmail, the queue, the sender, a real aiosmtpd; what arrives and what is recorded."""

from __future__ import annotations

import base64
import threading
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from sync.incoming.dedupe import message_key
from sync.model.email import RecipientStatus
from sync.model.options import CredentialRetrieval, EmailDirection, EmailStatus, ParticipationType
from sync.model.profile import TlsMode
from sync.outgoing.pool import ConnectionPool
from sync.outgoing.port import SmtpEndpoint
from sync.outgoing.sender import OutgoingSender
from sync.outgoing.smtp import SmtpConnector
from sync.outgoing.submit import AttachmentInput, PartyInput
from sync.store.names import Table
from sync.store.slots import ConnectionSlots
from tests.integration.outgoing.conftest import Outbox
from tests.integration.outgoing.scripted_smtp import ScriptedSmtp

pytestmark = pytest.mark.integration


def _parsed(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_an_email_from_a_user_arrives_once_with_its_token_and_is_recorded_sent(outbox: Outbox) -> None:
    user, mailbox = outbox.mailbox()
    email = outbox.submit(user, outbox.carol, outbox.dan, subject="Your quote")
    assert (email.status, email.sender_mailbox_id) == (EmailStatus.PENDING_SEND, mailbox.id)
    assert email.message_id is not None and email.tracking_token is not None

    (report,) = outbox.drain(outbox.sender())
    assert (report.outcome, report.attempts) == ("sent", 1)
    (arrived,) = outbox.smtp.by_message_id(email.message_id)
    assert arrived.rcpt_tos == ("carol@fabrikam.test", "dan@contoso.test")
    assert (arrived.login, arrived.tls, arrived.mail_from) == (mailbox.email_address, True, mailbox.email_address)
    message = _parsed(arrived.data)
    assert message["Subject"] == f"Your quote {email.tracking_token}"
    assert message["From"].addresses[0].addr_spec == mailbox.email_address
    assert message["To"] == "Carol Clark <carol@fabrikam.test>, Dan Diaz <dan@contoso.test>"
    assert message["Sender"] is None
    assert message.get_body(("plain",)).get_content().strip() == "Dear customer,\n\nhere is your quote."  # type: ignore[union-attr]
    assert "<b>quote</b>" in message.get_body(("html",)).get_content()  # type: ignore[union-attr]

    stored = outbox.get(email)
    assert (stored.status, stored.delivery_attempts, stored.direction) == (EmailStatus.SENT, 1, EmailDirection.OUTGOING)
    assert stored.sent_on == outbox.clock.now and stored.send_lease_expires_on is None
    assert {r.address: r.status for r in stored.recipient_results} == {
        "carol@fabrikam.test": RecipientStatus.ACCEPTED,
        "dan@contoso.test": RecipientStatus.ACCEPTED,
    }
    assert email.message_id.startswith(f"<{email.id}@")  # it names the email: no MessageIndex row is written
    assert outbox.store.message_index.find(message_key(email.message_id, b"")) is None
    assert [s.email_id for s in outbox.store.token_index.find(email.tracking_token)] == [email.id]


def test_a_queue_email_has_the_queue_in_from_and_the_acting_user_in_sender(outbox: Outbox) -> None:
    queue, queue_mailbox = outbox.mailbox(queue=True)
    agent, _ = outbox.mailbox()
    email = outbox.submit(queue, outbox.carol, owner_user_id=agent.id, subject="Case 42")
    outbox.drain(outbox.sender())
    assert email.message_id is not None
    (arrived,) = outbox.smtp.by_message_id(email.message_id)
    message = _parsed(arrived.data)
    assert message["From"].addresses[0].addr_spec == queue_mailbox.email_address
    assert message["From"].addresses[0].display_name == queue.display_name
    assert message["Sender"].addresses[0].addr_spec == agent.email_columns()["internal_email_address"]
    assert arrived.login == queue_mailbox.email_address  # the queue's mailbox sends (R-OUT-3)


def test_implicit_tls_attachments_inline_images_and_bcc(outbox: Outbox) -> None:
    changes = {"id": "smtps-" + outbox.profile.id[:20], "outgoing_tls": TlsMode.IMPLICIT}
    profile = outbox.profile.model_copy(update={**changes, "outgoing_port": outbox.smtp.smtps_port})
    outbox.store.profiles.upsert(profile)
    user, _ = outbox.mailbox(profile=profile)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    files = [
        AttachmentInput("quote.pdf", base64.b64encode(b"%PDF-1.4 ...").decode(), "application/pdf"),
        AttachmentInput("logo.png", base64.b64encode(png).decode(), "image/png", "logo@crm", True),
    ]
    html = '<p>Logo: <img src="cid:logo@crm"></p>'
    bcc = [PartyInput(address="boss@example.test")]
    email = outbox.submit(user, outbox.carol, subject="Files", html_body=html, attachments=files, bcc=bcc)
    outbox.drain(outbox.sender())
    assert email.message_id is not None
    (arrived,) = outbox.smtp.by_message_id(email.message_id)
    assert arrived.port == outbox.smtp.smtps_port and arrived.tls
    assert arrived.rcpt_tos == ("carol@fabrikam.test", "boss@example.test")
    message = _parsed(arrived.data)
    assert message["Bcc"] is None and "boss@example.test" not in arrived.data.decode()
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached["quote.pdf"] == b"%PDF-1.4 ..."
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo@crm>" and image.get_content() == png


def test_a_reply_carries_in_reply_to_and_references(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    first = outbox.submit(user, outbox.carol, subject="Quote")
    outbox.drain(outbox.sender())
    reply = outbox.submit(user, outbox.carol, subject="RE: Quote", in_reply_to_email_id=first.id)
    outbox.drain(outbox.sender())
    assert reply.message_id is not None and first.message_id is not None
    message = _parsed(outbox.smtp.by_message_id(reply.message_id)[0].data)
    assert message["In-Reply-To"] == first.message_id
    assert message["References"] == first.message_id


def test_hostile_subjects_and_names_add_no_header(outbox: Outbox) -> None:
    user, _ = outbox.mailbox()
    hostile = "Hi\r\nBcc: victim@evil.test\r\nX-Injected: 1 =?utf-8?q?x=0D=0ABcc:_v2@evil.test?="
    to = [PartyInput(address="x@fabrikam.test", name="Eve\nBcc: e@evil.test")]
    email = outbox.submit(user, subject=hostile, to=to)
    (report,) = outbox.drain(outbox.sender())
    assert report.outcome == "sent" and email.message_id is not None
    (arrived,) = outbox.smtp.by_message_id(email.message_id)
    assert arrived.rcpt_tos == ("x@fabrikam.test",)
    message = _parsed(arrived.data)
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert "victim@evil.test" in message["Subject"] and "\n" not in message["Subject"]


def test_one_connection_serves_a_batch(outbox: Outbox) -> None:
    user, _ = outbox.mailbox(profile=outbox.scripted_profile)
    emails = [outbox.submit(user, outbox.carol, subject=f"Batch {n}") for n in range(5)]
    sender = outbox.sender()
    assert [r.outcome for r in outbox.drain(sender)] == ["sent"] * 5
    assert all(outbox.scripted.count(e.message_id or "") == 1 for e in emails)
    assert len(outbox.scripted.logins) == 1 and len({d.peer_port for d in outbox.scripted.delivered}) == 1
    assert sender.pool.opened == 1


def test_never_more_connections_than_the_profile_allows(outbox: Outbox) -> None:
    changes = {"id": "two-" + outbox.scripted_profile.id[:20], "max_concurrent_connections": 2}
    profile = outbox.scripted_profile.model_copy(update=changes)
    outbox.store.profiles.upsert(profile)
    user, _ = outbox.mailbox(profile=profile)
    emails = [outbox.submit(user, outbox.carol, subject=f"Parallel {n}") for n in range(12)]
    works = outbox.receive()
    slots = ConnectionSlots(outbox.store.account.table(Table.CONNECTION_SLOTS))

    def instance(name: str) -> OutgoingSender:  # idle connections give their slot back quickly
        pool = ConnectionPool(SmtpConnector(), slots, holder=name, slot_lease=timedelta(minutes=5), idle_seconds=0.3)
        return outbox.sender(pool=pool)

    senders = [instance("instance-a"), instance("instance-b")]  # sharing the connection slots
    reports: list[str] = []

    def run(n: int) -> None:
        reports.append(senders[n % 2].handle(works[n]).outcome)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(reports) == ["sent"] * 12
    assert outbox.scripted.open_max <= 2
    assert all(outbox.scripted.count(e.message_id or "") == 1 for e in emails)


def test_auth_login_when_plain_is_not_offered_and_xoauth2(outbox: Outbox) -> None:
    users, tokens = {"a@example.test": "pw"}, {"o@example.test": "tok"}
    server = ScriptedSmtp(outbox.scripted.ca, users, oauth_tokens=tokens, exclude_mechanisms=("PLAIN",)).start()
    try:
        base = SmtpEndpoint(
            host="localhost",
            port=server.port,
            tls="starttls",
            auth="password",
            username="a@example.test",
            password="pw",
            ca_file=outbox.settings.extra_ca_file,
        )
        SmtpConnector().open(base).close()
        oauth = replace(base, auth="xoauth2", username="o@example.test", password=None, oauth=lambda _renew: "tok")
        SmtpConnector().open(oauth).close()
        assert server.logins == [("LOGIN", "a@example.test"), ("XOAUTH2", "o@example.test")]
    finally:
        server.stop()


def test_an_oauth_profile_sends_with_the_token_source(outbox: Outbox) -> None:
    changes: dict[str, object] = {"id": "oauth-" + outbox.scripted_profile.id[:20]}
    changes["incoming_credential_retrieval"] = CredentialRetrieval.GMAIL_OAUTH
    profile = outbox.scripted_profile.model_copy(update=changes)
    outbox.store.profiles.upsert(profile)
    user, mailbox = outbox.mailbox(profile=profile)
    assert mailbox.email_address is not None
    outbox.scripted.oauth_tokens[mailbox.email_address] = "access-token-1"

    class Tokens:
        def token(self, mailbox: object, profile: object, *, force_refresh: bool = False) -> str:
            return "access-token-1"

    email = outbox.submit(user, outbox.carol)
    (report,) = outbox.drain(outbox.sender(tokens=Tokens()))
    assert report.outcome == "sent" and outbox.scripted.count(email.message_id or "") == 1
    assert ("XOAUTH2", mailbox.email_address) in outbox.scripted.logins
    assert outbox.get(email).parties_of(ParticipationType.SENDER)[0].address_used == mailbox.email_address
