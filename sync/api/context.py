"""What every route needs, built once per app: settings, the store, the secret box and the mail adapters.

Routes ask for it with the ``Ctx`` dependency, so tests can build an app around the local stack (or around
stand-in connectors) without touching module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Annotated

import requests
from fastapi import Depends, Request

from sync.act.records import ActRecords
from sync.auth.consent_flow import ConsentFlow
from sync.auth.mail_tokens import MailTokenSources
from sync.auth.secrets import SecretBox
from sync.auth.tokens import TokenProvider, identity_provider_session
from sync.crm.records import RecordService
from sync.health.notifications import AlertMailer
from sync.health.profile_alerts import ProfileAlerts
from sync.mail.ews.connector import EwsConnector
from sync.mail.ews.sending import EwsSender
from sync.mail.exchange import ExchangeActMailboxes, ExchangeMailboxes, ExchangeOutboxes
from sync.mail.graph.connector import GraphConnector
from sync.mail.port import ExchangeConnector, IncomingConnector
from sync.mailboxes.provisioning import Provisioning
from sync.mailboxes.test_enable import SendMail, TestAndEnable, smtp_send
from sync.model.fields import utcnow
from sync.model.options import ServerType
from sync.outgoing.counter_blocks import CounterBlocks
from sync.push.receiver import PushReceiver
from sync.push.subscriber import PushSubscriber
from sync.push.wake import push_waker
from sync.services import incoming_connectors, mail_token_sources
from sync.settings import Settings
from sync.store.read_cache import ReadCache
from sync.store.store import Store


@dataclass
class ApiContext:
    settings: Settings
    store_factory: Callable[[], Store]
    connectors: Mapping[ServerType, IncomingConnector | ExchangeConnector] | None = None  # None: the real ones
    send_mail: SendMail = smtp_send
    clock: Callable[[], datetime] = utcnow

    @cached_property
    def store(self) -> Store:
        return self.store_factory()

    @cached_property
    def read_cache(self) -> ReadCache:
        """The organization and mailbox rows the email routes read, kept as the workers keep them."""
        return ReadCache(self.store)

    @cached_property
    def token_counters(self) -> CounterBlocks:
        """Tracking-token counter values this instance reserved from the organization row."""
        return CounterBlocks()

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.settings.aes_key())

    @property
    def records(self) -> RecordService:
        return RecordService(self.store)

    @property
    def act(self) -> ActRecords:
        """Writes of appointments, contacts and tasks that mark the interested mailboxes for ACT sync."""
        return ActRecords(self.store)

    @property
    def provisioning(self) -> Provisioning:
        return Provisioning(self.store)

    @cached_property
    def tokens(self) -> TokenProvider:
        return TokenProvider(
            self.store.token_cache, self.box, self.settings.entra_authority, self.settings.extra_ca_file
        )

    @cached_property
    def identity_session(self) -> requests.Session:
        """Token endpoints other than MSAL's (consent, Google): the same CAs and egress checks."""
        return identity_provider_session(self.settings.extra_ca_file)

    @property
    def consents(self) -> ConsentFlow:
        return ConsentFlow(
            self.store, self.box, self.identity_session, microsoft_authority=self.settings.entra_authority,
            clock=self.clock,
        )  # fmt: skip

    @cached_property
    def mail_tokens(self) -> MailTokenSources:
        return mail_token_sources(self.settings, self.box, self.tokens, self.store, self.identity_session)

    @cached_property
    def graph(self) -> GraphConnector:
        return GraphConnector(self.settings, self.box, self.tokens)

    @cached_property
    def exchange_sender(self) -> ExchangeOutboxes:
        return ExchangeOutboxes(EwsSender(self.settings, self.box, self.tokens), self.graph)

    @cached_property
    def push_subscriber(self) -> PushSubscriber:
        return PushSubscriber(self.store, self.box, self.graph, self.settings.graph_notification_url, self.clock)

    @cached_property
    def push_receiver(self) -> PushReceiver:
        """Graph's notifications wake mailboxes through the schedulers' own claims (one process-wide copy)."""
        return PushReceiver(self.store, self.push_subscriber, push_waker(self.store, self.settings), self.clock)

    def test_and_enable(self) -> TestAndEnable:
        connectors = self.connectors
        if connectors is None:
            exchange = ExchangeMailboxes(EwsConnector(self.settings, self.box, self.tokens), self.graph)
            connectors = incoming_connectors(exchange)
        return TestAndEnable(
            self.store,
            self.box,
            connectors,
            self.send_mail,
            exchange=self.exchange_sender,
            act=ExchangeActMailboxes(EwsConnector(self.settings, self.box, self.tokens), self.graph),
            ca_file=self.settings.extra_ca_file,
            clock=self.clock,
            profile_alerts=ProfileAlerts(self.store, AlertMailer(self.store, self.settings, self.clock), self.clock),
            tokens=self.mail_tokens,
            push=self.push_subscriber.ensure,
        )


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Ctx = Annotated[ApiContext, Depends(get_context)]
