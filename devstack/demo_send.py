"""The outgoing part of the demo: CRM email from a user and from a queue, sent exactly as in production.

:func:`send_demo_emails` creates the emails through the same service as the admin API (SendEmail puts
them on the real ``outgoing-mail`` queue) and runs the queue-triggered sender on every message, then
returns what the local SMTP server received: Message-ID and subject with its tracking token.
:func:`customer_reply` is the customer's answer to one of them, to deliver into the user's mailbox for
the incoming round, where it is tracked and correlated to the email the CRM sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

from devstack.demo_mail import DemoMessage
from devstack.seed import DemoOrganization
from devstack.smtp import SmtpServer
from sync.model.fields import EntityRef
from sync.model.records import EmailEnabled
from sync.outgoing.messages import OutgoingWork
from sync.outgoing.submit import DraftSpec, PartyInput
from sync.services import Services
from sync.store.names import Queue


@dataclass(frozen=True)
class SentDemoEmail:
    label: str
    email_id: str
    message_id: str
    subject: str  # as the SMTP server received it, tracking token included
    tracking_token: str
    sender: str  # the From header (and Sender, when a user sent for a queue)
    recipients: tuple[str, ...]  # the envelope
    outcome: str  # what the sender reported: "sent"


def _ref(record: EmailEnabled) -> EntityRef:
    return EntityRef(type=record.entity_type, id=record.id)


def send_demo_emails(services: Services, demo: DemoOrganization, smtp_server: SmtpServer) -> list[SentDemoEmail]:
    """Alice writes to Carol; the Support queue (Alice acting) writes to Dan; both go through the queue."""
    alice, support = demo.users[0], demo.queues[0]
    carol, dan = demo.contacts[0], demo.contacts[1]
    fabrikam, contoso = demo.accounts[0], demo.accounts[1]
    specs = [
        (
            "Alice -> Carol (from a user)",
            DraftSpec(
                sender=_ref(alice),
                to=[PartyInput(ref=_ref(carol))],
                subject="Your quote for 20 licences",
                html_body="<p>Dear Carol,</p><p>please find our quote below: 20 licences, EUR 4,800.</p>",
                regarding=_ref(fabrikam),
            ),
        ),
        (
            "Support -> Dan (from a queue, Alice acting)",
            DraftSpec(
                sender=_ref(support),
                to=[PartyInput(ref=_ref(dan))],
                subject="Your support request",
                html_body="<p>Hello Dan,</p><p>we are looking into it and will get back to you today.</p>",
                regarding=_ref(contoso),
                owner_user_id=alice.id,
            ),
        ),
    ]
    outgoing = services.outgoing_emails
    queued = [(label, outgoing.send(outgoing.create_draft(spec).id)) for label, spec in specs]
    outcomes = _run_sender(services)
    sent = []
    for label, email in queued:
        assert email.message_id is not None and email.tracking_token is not None
        received = smtp_server.by_message_id(email.message_id)
        if not received:
            continue
        message = message_from_bytes(received[0].data.replace(b"\r\n", b"\n"), policy=policy.default)
        sender = str(message["From"]) + (f" (Sender: {message['Sender']})" if message["Sender"] else "")
        sent.append(
            SentDemoEmail(
                label=label,
                email_id=email.id,
                message_id=email.message_id,
                subject=str(message["Subject"]),
                tracking_token=email.tracking_token,
                sender=sender,
                recipients=received[0].rcpt_tos,
                outcome=outcomes.get(email.id, ""),
            )
        )
    return sent


CUSTOMER = "Carol Clark <carol@fabrikam.test>"


def customer_reply(sent: SentDemoEmail, *, mailbox: str, sender: str = CUSTOMER) -> DemoMessage:
    """The customer's answer: In-Reply-To the CRM email's Message-ID, its subject (and token) kept."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mailbox
    msg["Subject"] = f"RE: {sent.subject}"
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].rstrip(">"))
    msg["In-Reply-To"] = sent.message_id
    msg["References"] = sent.message_id
    msg.set_content("Thank you, the quote looks good. Please send the order form.")
    return DemoMessage(f"reply to '{sent.label}'", mailbox, msg.as_bytes(), str(msg["Message-ID"]))


def _run_sender(services: Services) -> dict[str, str]:
    """What the Functions host does with ``outgoing-mail``: each message to the handler, then deleted."""
    queue = services.store.account.queue(Queue.OUTGOING_MAIL)
    outcomes: dict[str, str] = {}
    while messages := list(queue.receive_messages(messages_per_page=16, visibility_timeout=60)):
        for message in messages:
            report = services.outgoing_sender.handle(OutgoingWork.model_validate_json(message.content))
            outcomes[report.email_id] = report.outcome
            queue.delete_message(message)
    return outcomes
