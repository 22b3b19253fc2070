"""The Exchange connector the incoming worker uses for Exchange profiles (``ServerType.is_exchange``)."""

from __future__ import annotations

from sync.auth.secrets import SecretBox
from sync.mail.ews.account import TokenSource, install_http_adapter, open_account
from sync.mail.ews.act import EwsActMailbox
from sync.mail.ews.endpoint import ews_endpoint
from sync.mail.ews.session import EwsSession
from sync.model import EmailServerProfile, Mailbox
from sync.settings import Settings


class EwsConnector:
    def __init__(self, settings: Settings, box: SecretBox, tokens: TokenSource | None) -> None:
        self.settings = settings
        self.box = box
        self.tokens = tokens
        install_http_adapter(settings.extra_ca_file)

    def open_mailbox(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> EwsSession:
        endpoint = ews_endpoint(mailbox, profile, self.box)
        calls = self.settings.ews_max_concurrent_calls
        account = open_account(endpoint, self.tokens, max_connections=calls)
        return EwsSession(
            account, max_concurrent_calls=calls, deadline=deadline, limit=self.settings.max_emails_per_cycle,
            page_size=self.settings.retrieval_batch_size,
        )  # fmt: skip

    def open_act(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> EwsActMailbox:
        """The mailbox's calendar, contacts and tasks (ACT synchronization)."""
        return EwsActMailbox(self.open_mailbox(mailbox, profile, deadline=deadline))
