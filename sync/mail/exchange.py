"""Exchange through the right API: Microsoft Graph for Exchange Online, EWS for Exchange Server.

A profile's ``exchange_api`` decides (``EmailServerProfile.uses_graph``): Exchange Online defaults to Graph,
since EWS in Exchange Online only serves allow-listed apps and is removed on 2027-04-01; such a tenant can
keep EWS until then. The workers, the sender and Test & Enable ask these objects and never care which.
"""

from __future__ import annotations

from sync.act.port import ActMailbox
from sync.mail.ews.connector import EwsConnector
from sync.mail.ews.sending import EwsSender
from sync.mail.graph.connector import GraphConnector
from sync.mail.port import ExchangeSession
from sync.model import EmailServerProfile, Mailbox
from sync.outgoing.port import ExchangeOutbox


class ExchangeMailboxes:
    """The incoming side (an ``ExchangeConnector``)."""

    def __init__(self, ews: EwsConnector, graph: GraphConnector) -> None:
        self.ews = ews
        self.graph = graph

    def open_mailbox(
        self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None
    ) -> ExchangeSession:
        if profile.uses_graph:
            return self.graph.open_mailbox(mailbox, profile, deadline=deadline)
        return self.ews.open_mailbox(mailbox, profile, deadline=deadline)


class ExchangeActMailboxes:
    """Appointments, contacts and tasks (an ``ActConnector``): Graph for Exchange Online, EWS for Exchange Server."""

    def __init__(self, ews: EwsConnector, graph: GraphConnector) -> None:
        self.ews = ews
        self.graph = graph

    def open_act(self, mailbox: Mailbox, profile: EmailServerProfile, *, deadline: float | None = None) -> ActMailbox:
        if profile.uses_graph:
            return self.graph.open_act(mailbox, profile, deadline=deadline)
        return self.ews.open_act(mailbox, profile, deadline=deadline)


class ExchangeOutboxes:
    """The outgoing side (an ``ExchangeSender``)."""

    def __init__(self, ews: EwsSender, graph: GraphConnector) -> None:
        self.ews = ews
        self.graph = graph

    def open_outbox(self, mailbox: Mailbox, profile: EmailServerProfile) -> ExchangeOutbox:
        if profile.uses_graph:
            return self.graph.open_outbox(mailbox, profile)
        return self.ews.open_outbox(mailbox, profile)
