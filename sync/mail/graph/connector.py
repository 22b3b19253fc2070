"""The Graph side of the Exchange connector: incoming sessions, outboxes and ACT for Exchange Online mailboxes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from sync.auth.secrets import SecretBox
from sync.mail.errors import MailAuthenticationError
from sync.mail.ews.account import TokenSource
from sync.mail.ews.endpoint import OAuthApp
from sync.mail.graph.act import GraphActMailbox
from sync.mail.graph.client import GraphClient
from sync.mail.graph.endpoint import GraphEndpoint, graph_endpoint
from sync.mail.graph.sending import GraphOutbox
from sync.mail.graph.session import GraphSession
from sync.mail.graph.subscriptions import GraphSubscriptions
from sync.model import EmailServerProfile, Mailbox
from sync.settings import Settings


class GraphConnector:
    """One client per (Graph URL, app): its token fetch and its per-mailbox request limits are shared."""

    def __init__(self, settings: Settings, box: SecretBox, tokens: TokenSource | None) -> None:
        self.settings = settings
        self.box = box
        self.tokens = tokens
        self._clients: dict[tuple[str, OAuthApp], GraphClient] = {}
        self._lock = threading.Lock()

    def open_mailbox(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> GraphSession:
        endpoint = graph_endpoint(mailbox, profile, self.box)
        client = self._client(endpoint)
        return GraphSession(
            client, endpoint.address, deadline=deadline, limit=self.settings.max_emails_per_cycle,
            page_size=self.settings.retrieval_batch_size,
        )  # fmt: skip

    def open_outbox(self, mailbox: Mailbox, profile: EmailServerProfile) -> GraphOutbox:
        endpoint = graph_endpoint(mailbox, profile, self.box)
        return GraphOutbox(self._client(endpoint), endpoint.address)

    def open_act(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> GraphActMailbox:
        """The mailbox's calendar, contacts and To Do tasks (ACT synchronization)."""
        endpoint = graph_endpoint(mailbox, profile, self.box)
        return GraphActMailbox(self._client(endpoint), endpoint.address, deadline=deadline)

    def open_subscriptions(self, mailbox: Mailbox, profile: EmailServerProfile) -> tuple[GraphSubscriptions, str]:
        """Change notification subscriptions with the mailbox's app, and the mailbox's address (push)."""
        endpoint = graph_endpoint(mailbox, profile, self.box)
        return GraphSubscriptions(self._client(endpoint)), endpoint.address

    def _client(self, endpoint: GraphEndpoint) -> GraphClient:
        key = (endpoint.base_url, endpoint.app)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self._clients[key] = GraphClient(
                    _token(self.tokens, endpoint.app), base_url=endpoint.base_url, ca_file=self.settings.extra_ca_file
                )
            return found


def _token(tokens: TokenSource | None, app: OAuthApp) -> Callable[[], str]:
    def fetch() -> str:
        if tokens is None:
            raise MailAuthenticationError("OAuth is configured without a token source", code="CredentialsMissing")
        return tokens.token(app.tenant_id, app.client_id, app.client_secret, app.scope).value

    return fetch
