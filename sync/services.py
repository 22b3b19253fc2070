"""The composition root: builds the services from settings, once per process.

Entry points (``function_app.py``, the CLI, the local dev host) ask here; nothing else constructs
adapters, so tests can build the same services around the local stack.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import requests

from sync.act.worker import ActWorker
from sync.auth.consent_tokens import ConsentTokens
from sync.auth.google import GoogleServiceAccountTokens
from sync.auth.mail_tokens import CONSENT, GOOGLE, MICROSOFT, MailTokenSources
from sync.auth.microsoft_mail_tokens import MicrosoftAppTokens
from sync.auth.secrets import SecretBox
from sync.auth.tokens import TokenProvider, identity_provider_session
from sync.incoming.worker import MailboxWorker
from sync.mail.ews.connector import EwsConnector
from sync.mail.ews.sending import EwsSender
from sync.mail.exchange import ExchangeActMailboxes, ExchangeMailboxes, ExchangeOutboxes
from sync.mail.graph.connector import GraphConnector
from sync.mail.imap import ImapConnector
from sync.mail.pop3 import Pop3Connector
from sync.mail.port import ExchangeConnector, IncomingConnector
from sync.mailboxes.test_enable import TestAndEnable, smtp_send
from sync.model.fields import utcnow
from sync.model.options import ServerType
from sync.outgoing.messages import OutboxQueue, WorkSigner
from sync.outgoing.sender import OutgoingSender
from sync.outgoing.smtp import SmtpConnector
from sync.outgoing.submit import OutgoingEmails
from sync.outgoing.sweep import OutboxSweep
from sync.push.subscriber import PushSubscriber
from sync.push.wake import push_waker
from sync.scheduling.act_scheduler import ActScheduler
from sync.scheduling.scheduler import Scheduler
from sync.scheduling.test_enable_queue import TestEnableScheduler, TestEnableWork, handle
from sync.scheduling.work import ShardWork, WorkBatch, WorkItem
from sync.settings import Settings
from sync.store.names import Queue
from sync.store.store import Store


def incoming_connectors(
    exchange: ExchangeConnector | None = None,
) -> dict[ServerType, IncomingConnector | ExchangeConnector]:
    """The connector per profile server type; Exchange types only when an Exchange connector is given."""
    connectors: dict[ServerType, IncomingConnector | ExchangeConnector] = {
        ServerType.IMAP_SMTP: ImapConnector(),
        ServerType.POP3_SMTP: Pop3Connector(),
    }
    if exchange is not None:
        connectors.update({server_type: exchange for server_type in ServerType if server_type.is_exchange})
    return connectors


def mail_token_sources(
    settings: Settings, box: SecretBox, tokens: TokenProvider, store: Store, session: requests.Session
) -> MailTokenSources:
    """OAuth access tokens for IMAP, POP3 and SMTP logins, one source per kind (``sync/auth/mail_tokens.py``);
    the admin API's Test & Enable uses the same. ``session``: the token session of Google and consents."""
    return MailTokenSources(
        {
            MICROSOFT: MicrosoftAppTokens(tokens, box),
            GOOGLE: GoogleServiceAccountTokens(box, session),
            CONSENT: ConsentTokens(store, box, session, microsoft_authority=settings.entra_authority),
        }
    )


def queue_sender(store: Store, queue: Queue) -> Callable[[WorkItem], None]:
    """Puts a work item on ``queue`` (what the schedulers' claims send)."""
    client = store.account.queue(queue)

    def send(item: WorkItem) -> None:
        client.send_message(item.model_dump_json())

    return send


def batch_sender(store: Store, queue: Queue) -> Callable[[WorkBatch], None]:
    """Puts several work items on ``queue`` as one message (what a claimed page sends)."""
    client = store.account.queue(queue)

    def send(batch: WorkBatch) -> None:
        client.send_message(batch.model_dump_json())

    return send


class Services:
    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store = store

    @cached_property
    def store(self) -> Store:
        return self._store or Store.from_settings(self.settings)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.settings.aes_key())

    def enqueue_work(self) -> Callable[[WorkItem], None]:
        return queue_sender(self.store, Queue.MAILBOX_WORK)

    def enqueue_work_batch(self) -> Callable[[WorkBatch], None]:
        return batch_sender(self.store, Queue.MAILBOX_WORK)

    def enqueue_claims(self) -> Callable[[ShardWork], None]:
        queue = self.store.account.queue(Queue.MAILBOX_CLAIMS)

        def send(work: ShardWork) -> None:
            queue.send_message(work.model_dump_json())

        return send

    @cached_property
    def scheduler(self) -> Scheduler:
        return Scheduler(
            self.store, self.settings, self.enqueue_work(),
            send_batch=self.enqueue_work_batch(), send_shard=self.enqueue_claims(),
        )  # fmt: skip

    @cached_property
    def tokens(self) -> TokenProvider:
        """One per process: MSAL apps and their token caches stay warm between invocations."""
        return TokenProvider(
            self.store.token_cache, self.secret_box, self.settings.entra_authority, self.settings.extra_ca_file
        )

    @cached_property
    def identity_session(self) -> requests.Session:
        """Token endpoints other than MSAL's (Google, per-mailbox consent): the same CAs and egress checks."""
        return identity_provider_session(self.settings.extra_ca_file)

    @cached_property
    def mail_tokens(self) -> MailTokenSources:
        return mail_token_sources(self.settings, self.secret_box, self.tokens, self.store, self.identity_session)

    @cached_property
    def graph(self) -> GraphConnector:
        return GraphConnector(self.settings, self.secret_box, self.tokens)

    @cached_property
    def ews(self) -> EwsConnector:
        return EwsConnector(self.settings, self.secret_box, self.tokens)

    def enqueue_act(self) -> Callable[[WorkItem], None]:
        return queue_sender(self.store, Queue.ACT_WORK)

    @cached_property
    def act_scheduler(self) -> ActScheduler:
        """Shares the ``mailbox-claims`` queue with the incoming scheduler (its messages say ``act``)."""
        return ActScheduler(
            self.store, self.settings, self.enqueue_act(),
            send_batch=batch_sender(self.store, Queue.ACT_WORK), send_shard=self.enqueue_claims(),
        )  # fmt: skip

    @cached_property
    def act_worker(self) -> ActWorker:
        return ActWorker(self.store, self.settings, ExchangeActMailboxes(self.ews, self.graph))

    @cached_property
    def worker(self) -> MailboxWorker:
        exchange = ExchangeMailboxes(self.ews, self.graph)
        waker = push_waker(self.store, self.settings)
        return MailboxWorker(
            self.store, self.settings, self.secret_box, incoming_connectors(exchange), tokens=self.mail_tokens,
            rewake=lambda mailbox_id: waker.wake(mailbox_id, "incoming", utcnow()),
        )  # fmt: skip

    @cached_property
    def outbox_queue(self) -> OutboxQueue:
        return OutboxQueue(self.store.account.queue(Queue.OUTGOING_MAIL))

    @cached_property
    def work_signer(self) -> WorkSigner:
        return WorkSigner(self.settings.aes_key())

    @cached_property
    def outgoing_sender(self) -> OutgoingSender:
        """One per process: it keeps the SMTP connections open between queue messages."""
        return OutgoingSender(
            self.store, self.settings, self.secret_box, SmtpConnector(), self.outbox_queue, self.work_signer,
            exchange=ExchangeOutboxes(EwsSender(self.settings, self.secret_box, self.tokens), self.graph),
            tokens=self.mail_tokens,
        )  # fmt: skip

    def enqueue_test(self) -> Callable[[TestEnableWork], None]:
        queue = self.store.account.queue(Queue.TEST_AND_ENABLE)

        def send(work: TestEnableWork) -> None:
            queue.send_message(work.model_dump_json())

        return send

    @cached_property
    def test_enable_scheduler(self) -> TestEnableScheduler:
        return TestEnableScheduler(self.store, self.enqueue_test())

    @cached_property
    def push_subscriber(self) -> PushSubscriber:
        return PushSubscriber(self.store, self.secret_box, self.graph, self.settings.graph_notification_url)

    @cached_property
    def test_and_enable(self) -> TestAndEnable:
        exchange = ExchangeMailboxes(self.ews, self.graph)
        return TestAndEnable(
            self.store,
            self.secret_box,
            incoming_connectors(exchange),
            smtp_send,
            exchange=ExchangeOutboxes(EwsSender(self.settings, self.secret_box, self.tokens), self.graph),
            act=self.ews,
            ca_file=self.settings.extra_ca_file,
            tokens=self.mail_tokens,
            push=self.push_subscriber.ensure,
        )

    def run_queued_test(self, work: TestEnableWork) -> str:
        """One message of the ``test-and-enable`` queue (R-TE-1): "tested", "done" or "missing"."""

        def test(w: TestEnableWork) -> object:
            return self.test_and_enable.run(w.mailbox_id, by=w.by, automatic=w.automatic)

        return handle(self.store, test, work)

    @cached_property
    def outbox_sweep(self) -> OutboxSweep:
        return OutboxSweep(self.store, self.outgoing_sender)

    @cached_property
    def outgoing_emails(self) -> OutgoingEmails:
        return OutgoingEmails(self.store, self.outbox_queue, self.work_signer)
