"""An organization on the isolated store whose mailboxes live on one local mail server (Dovecot, Mailutils)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from devstack import MailServer, TestCA
from sync.auth.secrets import SecretBox, seal_field
from sync.crm.records import RecordService
from sync.incoming.worker import CycleReport, MailboxWorker
from sync.mail.imap import ImapConnector, ImapSession
from sync.mail.pop3 import Pop3Connector, Pop3Session
from sync.mail.port import ConnectionSettings
from sync.mailboxes.provisioning import Provisioning
from sync.model import Contact, EmailServerProfile, Mailbox, Queue, SystemUser
from sync.model.options import EmailAddressApproval, FilteringMethod, ServerType
from sync.model.profile import TlsMode
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.scheduling.work import WorkItem
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store import Store
from tests.stack_fixtures import MAIL_PASSWORD


@dataclass
class World:
    store: Store
    settings: Settings
    box: SecretBox
    server: MailServer
    imap: EmailServerProfile
    pop3: EmailServerProfile

    def worker(self, **kwargs: object) -> MailboxWorker:
        return MailboxWorker(self.store, self.settings, self.box, incoming_connectors(), **kwargs)  # type: ignore[arg-type]

    def user_mailbox(
        self,
        profile: EmailServerProfile,
        filtering: FilteringMethod = FilteringMethod.ALL_EMAIL,
        *,
        queue: bool = False,
        delete_after: bool = False,
        password: str = MAIL_PASSWORD,
    ) -> Mailbox:
        """A new mail account and its CRM user (or queue) with an approved, scheduled mailbox."""
        address = f"{'q' if queue else 'u'}-{uuid.uuid4().hex[:10]}@example.test"
        self.server.add_user(address, MAIL_PASSWORD)
        provisioning = Provisioning(self.store)
        if queue:
            _, mailbox = provisioning.create_queue(
                Queue(name=f"Queue {address}", email_address=address, incoming_filtering_method=filtering)
            )
        else:
            _, mailbox = provisioning.create_user(
                SystemUser(
                    full_name=f"User {address}", internal_email_address=address, incoming_filtering_method=filtering
                )
            )
        mailbox = self.store.get_mailbox(mailbox.id)
        mailbox.email_server_profile_id = profile.id
        mailbox.approval = EmailAddressApproval.APPROVED
        mailbox.allow_credentials_for_email_processing = True
        mailbox.username = address
        mailbox.delete_emails_after_processing = delete_after
        seal_field(self.box, mailbox, "password", password)
        self.store.mailboxes.update(mailbox)
        return schedule_now(self.store, mailbox.id)

    def claim(self, mailbox: Mailbox, now: datetime | None = None) -> WorkItem:
        """Claim just this mailbox as a tick would (the tick's fan-out is tested on its own)."""
        fresh = self.store.get_mailbox(mailbox.id)
        profile = self.store.get_profile(fresh.email_server_profile_id or "")
        return Scheduler(self.store, self.settings, lambda item: None).claim(fresh, profile, now)

    def cycle(self, mailbox: Mailbox, worker: MailboxWorker | None = None) -> CycleReport:
        return (worker or self.worker()).run(self.claim(mailbox))

    def emails_with_message_id(self, message_id: str) -> int:
        return len(list(self.store.emails.query("message_id eq @m", {"m": message_id})))


class Killed(BaseException):
    """Stands in for the process dying: nothing after the raise runs, nothing catches it."""


@contextmanager
def dying_process(world: World, patch: pytest.MonkeyPatch) -> Iterator[None]:
    """Plays the death of the worker's process around a cycle that raises :class:`Killed`.

    Afterwards the connections the cycle opened are closed without LOGOUT or QUIT, as the OS closes a dead
    process's sockets, and the server has finished with them: Mailutils writes a session's view of the mbox
    back, and holds a POP3 maildrop's lock, until the session's process ends.
    """
    opened: list[ImapSession | Pop3Session] = []
    open_imap, open_pop3 = ImapConnector.open, Pop3Connector.open

    def recording_imap(self: ImapConnector, settings: ConnectionSettings) -> ImapSession:
        opened.append(open_imap(self, settings))
        return opened[-1]  # type: ignore[return-value]

    def recording_pop3(self: Pop3Connector, settings: ConnectionSettings) -> Pop3Session:
        opened.append(open_pop3(self, settings))
        return opened[-1]  # type: ignore[return-value]

    patch.setattr(ImapConnector, "open", recording_imap)
    patch.setattr(Pop3Connector, "open", recording_pop3)
    try:
        yield
    finally:
        for session in opened:
            if isinstance(session, ImapSession):
                session._client.shutdown()
            else:
                session._client.close()
        world.server.settle()


def message(
    to: str, *, sender: str = "carol@fabrikam.test", subject: str = "Hello", body: str = "Hi there", **headers: str
) -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Carol <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="fabrikam.test")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(), str(msg["Message-ID"]).strip("<>")


@pytest.fixture(scope="module")
def world(isolated_store: Store, settings: Settings, mail_server: MailServer, test_ca: TestCA) -> World:
    """Per mail server: every test using it runs against Dovecot and against Mailutils."""
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    box = SecretBox(own.aes_key())
    imap = isolated_store.profiles.insert(
        EmailServerProfile(
            name=f"{mail_server.name} IMAP",
            server_type=ServerType.IMAP_SMTP,
            incoming_server_location="localhost",
            incoming_port=mail_server.imaps_port,
            incoming_tls=TlsMode.IMPLICIT,
            timeout_mailbox_connection_after_ms=5000,
        )
    )
    pop3 = isolated_store.profiles.insert(
        EmailServerProfile(
            name=f"{mail_server.name} POP3",
            server_type=ServerType.POP3_SMTP,
            incoming_server_location="localhost",
            incoming_port=mail_server.pop3_port,
            incoming_tls=TlsMode.STARTTLS,
            timeout_mailbox_connection_after_ms=5000,
        )
    )
    RecordService(isolated_store).create(
        Contact(first_name="Carol", last_name="Clark", email_address1="carol@fabrikam.test")
    )
    return World(isolated_store, own, box, mail_server, imap, pop3)


Deliver = Callable[[str, bytes], None]
