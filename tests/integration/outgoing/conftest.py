"""An organization on an isolated store that sends through real aiosmtpd servers and receives in Dovecot.

Two SMTP servers: the session's ``smtp_server`` (well-behaved, relays into Dovecot, refuses
``@reject.test``) and a :class:`ScriptedSmtp` whose answers a test chooses. Time is a :class:`Clock` the
test moves; queue messages delayed by real minutes are not waited for: such steps hand the sender the
message directly (what the queue would deliver then).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from devstack import Dovecot, SmtpServer, TestCA
from sync.auth.secrets import SecretBox, seal_field
from sync.crm.records import RecordService
from sync.mailboxes.provisioning import Provisioning
from sync.model import Contact, Email, EmailServerProfile, Mailbox, Queue, SystemUser
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, ServerType, TestStatus
from sync.model.profile import TlsMode
from sync.outgoing.messages import OutboxQueue, OutgoingWork, WorkSigner
from sync.outgoing.port import OutgoingConnector
from sync.outgoing.sender import OutgoingSender, SendReport
from sync.outgoing.smtp import SmtpConnector
from sync.outgoing.submit import DraftSpec, OutgoingEmails, PartyInput
from sync.outgoing.sweep import OutboxSweep
from sync.settings import Settings
from sync.store import Store
from sync.store.names import Queue as QueueName
from tests.integration.outgoing.scripted_smtp import ScriptedSmtp
from tests.stack_fixtures import MAIL_PASSWORD


class Clock:
    """Now, as the test says; ``monotonic`` follows it, so a minute of test time expires caches too."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class TickingClock(Clock):
    """A clock that moves ``tick`` on every reading, as a real one does between two calls of the sender."""

    def __init__(self, tick: timedelta) -> None:
        super().__init__()
        self.tick = tick

    def __call__(self) -> datetime:
        self.now += self.tick
        return self.now


@dataclass
class Outbox:
    store: Store
    settings: Settings
    box: SecretBox
    smtp: SmtpServer
    scripted: ScriptedSmtp
    dovecot: Dovecot
    profile: EmailServerProfile  # the shared server (STARTTLS submission) and Dovecot IMAP
    scripted_profile: EmailServerProfile
    carol: Contact
    dan: Contact
    clock: Clock = field(default_factory=Clock)
    senders: list[OutgoingSender] = field(default_factory=list)

    @property
    def signer(self) -> WorkSigner:
        return WorkSigner(self.settings.aes_key())

    @property
    def queue(self) -> OutboxQueue:
        return OutboxQueue(self.store.account.queue(QueueName.OUTGOING_MAIL))

    def sender(
        self, connector: OutgoingConnector | None = None, *, queue: OutboxQueue | None = None, **kwargs: Any
    ) -> OutgoingSender:
        """A sender, as one Functions instance has; closed at the end of the test."""
        sender = OutgoingSender(
            self.store,
            self.settings,
            self.box,
            connector or SmtpConnector(),
            queue or self.queue,
            self.signer,
            clock=self.clock,
            monotonic=self.clock.monotonic,
            **kwargs,
        )
        self.senders.append(sender)
        return sender

    def sweep(self, sender: OutgoingSender) -> OutboxSweep:
        return OutboxSweep(self.store, sender, clock=self.clock)

    def emails(self) -> OutgoingEmails:
        return OutgoingEmails(self.store, self.queue, self.signer, clock=self.clock)

    def mailbox(
        self,
        *,
        queue: bool = False,
        profile: EmailServerProfile | None = None,
        password: str = MAIL_PASSWORD,
        approved: bool = True,
    ) -> tuple[SystemUser | Queue, Mailbox]:
        """A user (or queue) whose mailbox sends through ``profile``, with a login on both SMTP servers."""
        address = f"{'q' if queue else 'u'}-{uuid.uuid4().hex[:10]}@example.test"
        self.dovecot.add_user(address, MAIL_PASSWORD)
        self.smtp.add_user(address, MAIL_PASSWORD)
        self.scripted.users[address] = MAIL_PASSWORD
        provisioning = Provisioning(self.store)
        record: SystemUser | Queue
        if queue:
            record, mailbox = provisioning.create_queue(Queue(name=f"Support {address[:6]}", email_address=address))
        else:
            record, mailbox = provisioning.create_user(
                SystemUser(full_name=f"User {address[:12]}", internal_email_address=address)
            )
        mailbox = self.store.get_mailbox(mailbox.id)
        mailbox.email_server_profile_id = (profile or self.profile).id
        mailbox.approval = EmailAddressApproval.APPROVED if approved else EmailAddressApproval.PENDING_APPROVAL
        mailbox.allow_credentials_for_email_processing = True
        mailbox.outgoing_status = TestStatus.SUCCESS  # as after a Test & Enable (R-OUT-3)
        mailbox.username = address
        seal_field(self.box, mailbox, "password", password)
        return record, self.store.mailboxes.update(mailbox)

    def draft(self, sender: SystemUser | Queue, *to: Contact | str, **kwargs: Any) -> Email:
        parties = [
            PartyInput(address=t) if isinstance(t, str) else PartyInput(ref=EntityRef(type=t.entity_type, id=t.id))
            for t in (to or (self.carol,))
        ]
        spec = DraftSpec(
            sender=EntityRef(type=sender.entity_type, id=sender.id),
            subject=kwargs.pop("subject", "Your quote"),
            to=kwargs.pop("to", parties),
            html_body=kwargs.pop("html_body", "<p>Dear customer,</p><p>here is your <b>quote</b>.</p>"),
            **kwargs,
        )
        return self.emails().create_draft(spec)

    def submit(self, sender: SystemUser | Queue, *to: Contact | str, **kwargs: Any) -> Email:
        """Create a draft and SendEmail it: Pending Send, with its message on the queue."""
        return self.emails().send(self.draft(sender, *to, **kwargs).id)

    def receive(self) -> list[OutgoingWork]:
        """Every visible message on the queue, taken off it (as the host does after a handler returns)."""
        client = self.store.account.queue(QueueName.OUTGOING_MAIL)
        works: list[OutgoingWork] = []
        while True:
            batch = list(client.receive_messages(messages_per_page=32, visibility_timeout=60))
            if not batch:
                return works
            for message in batch:
                works.append(OutgoingWork.model_validate_json(message.content))
                client.delete_message(message)

    def drain(self, sender: OutgoingSender) -> list[SendReport]:
        """Run the sender on every visible message until the queue is empty."""
        reports = []
        while works := self.receive():
            reports += [sender.handle(work) for work in works]
        return reports

    def get(self, email: Email) -> Email:
        return self.store.get_email(email.id)

    def alerts(self, record_id: str) -> dict[int, str]:
        return {a.code: a.text for a in self.store.alerts.partition(record_id)}


@pytest.fixture(scope="module")
def scripted(test_ca: TestCA) -> Iterator[ScriptedSmtp]:
    server = ScriptedSmtp(test_ca, {})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def outbox_world(
    isolated_store: Store,
    settings: Settings,
    smtp_server: SmtpServer,
    scripted: ScriptedSmtp,
    dovecot: Dovecot,
    test_ca: TestCA,
) -> Outbox:
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    common: dict[str, Any] = {
        "server_type": ServerType.IMAP_SMTP,
        "incoming_server_location": "localhost",
        "incoming_port": dovecot.imaps_port,
        "incoming_tls": TlsMode.IMPLICIT,
        "outgoing_server_location": "localhost",
        "outgoing_tls": TlsMode.STARTTLS,
        "timeout_mailbox_connection_after_ms": 5000,
    }
    profile = isolated_store.profiles.insert(
        EmailServerProfile(name="Local SMTP", outgoing_port=smtp_server.submission_port, **common)
    )
    scripted_profile = isolated_store.profiles.insert(
        EmailServerProfile(name="Scripted SMTP", outgoing_port=scripted.port, **common)
    )
    org = isolated_store.get_organization()
    org.allow_unresolved_parties_on_email_send = True  # most tests send to raw addresses; R-OUT-5 has its own
    isolated_store.organization.upsert(org)
    records = RecordService(isolated_store)
    carol = records.create(Contact(first_name="Carol", last_name="Clark", email_address1="carol@fabrikam.test"))
    dan = records.create(Contact(first_name="Dan", last_name="Diaz", email_address1="dan@contoso.test"))
    return Outbox(
        store=isolated_store,
        settings=own,
        box=SecretBox(own.aes_key()),
        smtp=smtp_server,
        scripted=scripted,
        dovecot=dovecot,
        profile=profile,
        scripted_profile=scripted_profile,
        carol=carol,
        dan=dan,
    )


@pytest.fixture
def outbox(outbox_world: Outbox) -> Iterator[Outbox]:
    """The module's world with an empty queue, a fresh clock and a reset scripted server."""
    outbox_world.store.account.queue(QueueName.OUTGOING_MAIL).clear_messages()
    outbox_world.clock = Clock()
    outbox_world.scripted.reset()
    try:
        yield outbox_world
    finally:
        for sender in outbox_world.senders:
            sender.close()
        outbox_world.senders.clear()
