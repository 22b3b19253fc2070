"""The demo's mail: what a small sales and support team receives in a day, and how it is tracked.

Round 1 delivers mail from a contact to the support queue, to a user who tracks mail from customers and
to a user who tracks only replies; mail from an unknown sender; a message a user forwarded to the
forward mailbox as an attachment; and a bounce. Round 2, after an agent set the regarding record of the
support email, delivers the customer's reply, which correlates to it and inherits its regarding record.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid


@dataclass(frozen=True)
class DemoMessage:
    label: str
    mailbox: str  # the Dovecot account it is delivered to
    raw: bytes
    message_id: str


def _message(sender: str, to: str, subject: str, body: str, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", maxsplit=1)[-1].rstrip(">"))
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def _demo(label: str, mailbox: str, msg: EmailMessage, tracked_as: EmailMessage | None = None) -> DemoMessage:
    """``tracked_as``: the message the CRM sees when it differs from the one delivered (a forward)."""
    return DemoMessage(label, mailbox, msg.as_bytes(), str((tracked_as or msg)["Message-ID"]))


def _forwarded(by: str, original: EmailMessage) -> EmailMessage:
    """What a mailbox rule sends to the forward mailbox: the original attached as message/rfc822 (R-FWD-1)."""
    wrapper = _message(by, "collector@example.test", f"FW: {original['Subject']}", "Forwarded by a mailbox rule.")
    wrapper.add_attachment(original.as_bytes(), maintype="message", subtype="rfc822")
    return wrapper


def first_round() -> list[DemoMessage]:
    quote = _message(
        "Carol Clark <carol@fabrikam.test>",
        "support@example.test",
        "Quote for 40 licences",
        "Hello, could you send us a quote for 40 licences? Carol",
    )
    lunch = _message(
        "Dan Diaz <dan@contoso.test>", "alice@example.test", "Lunch on Friday?", "Alice, lunch on Friday? Dan"
    )
    stranger = _message(
        "Sam Stranger <sam@unknown.test>", "alice@example.test", "Great offer just for you", "You have been selected."
    )
    renewal = _message(
        "Dan Diaz <dan@contoso.test>", "bob@example.test", "Contoso renewal", "Bob, our renewal is due next month. Dan"
    )
    evaluation = _message(
        "Erin Evans <erin@northwind.test>",
        "bob@example.test",
        "Northwind evaluation",
        "Bob, we would like to evaluate your product. Erin",
    )
    inline = _message(
        "Bob Brown <bob@example.test>",
        "collector@example.test",
        "FW: pasted, not attached",
        "---------- Forwarded message ----------\nFrom: someone",
    )
    bounce = _message(
        "Mail Delivery System <MAILER-DAEMON@mx.example.test>",
        "alice@example.test",
        "Undeliverable: Lunch on Friday?",
        "Delivery to the following recipient failed.",
    )
    bob = "Bob Brown <bob@example.test>"
    return [
        _demo("contact -> support queue (tracks all)", "support@example.test", quote),
        _demo("contact -> Alice (tracks replies only)", "alice@example.test", lunch),
        _demo("unknown sender -> Alice", "alice@example.test", stranger),
        _demo(
            "contact -> Bob, forwarded to the collector", "collector@example.test", _forwarded(bob, renewal), renewal
        ),
        _demo(
            "lead -> Bob, forwarded to the collector", "collector@example.test", _forwarded(bob, evaluation), evaluation
        ),
        _demo("forwarded inline instead of attached", "collector@example.test", inline),
        _demo("bounce -> Alice", "alice@example.test", bounce),
    ]


def reply_round(quote_message_id: str) -> list[DemoMessage]:
    reply = _message(
        "Carol Clark <carol@fabrikam.test>",
        "alice@example.test",
        "RE: Quote for 40 licences",
        "Thanks Alice, the quote looks good.",
        In_Reply_To=quote_message_id,
        References=quote_message_id,
    )
    return [_demo("contact's reply to CRM mail -> Alice", "alice@example.test", reply)]


def customer_reply_to(message_id: str) -> DemoMessage:
    """Carol answers the quote Alice sent from the CRM: In-Reply-To its Message-ID, to Alice's mailbox."""
    reply = _message(
        "Carol Clark <carol@fabrikam.test>",
        "alice@example.test",
        "RE: Your quote for 20 licences",
        "Thank you, the quote looks good. Please send the order form.",
        In_Reply_To=message_id,
        References=message_id,
    )
    return _demo("Carol's reply to the quote Alice sent -> Alice", "alice@example.test", reply)
