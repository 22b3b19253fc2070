"""A user with an Exchange mailbox and the ACT cycle that syncs it (real Azurite).

``act`` reaches the mailbox through EWS (the EWS test server); ``act_any`` runs a test once through EWS and
once through Microsoft Graph (the Graph test server, Exchange Online with app-only tokens from the Entra ID
stand-in), with the user's side of the test spoken through ``remote`` (``remote.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from devstack import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.act.cycle import ActCycle, ActReport
from sync.act.port import ActConnector
from sync.act.records import ActRecords
from sync.auth.secrets import SecretBox, seal_field
from sync.auth.tokens import TokenProvider
from sync.mail.ews.connector import EwsConnector
from sync.mail.exchange import ExchangeActMailboxes
from sync.mail.graph.connector import GraphConnector
from sync.mailboxes.provisioning import Provisioning
from sync.model import EmailServerProfile, Mailbox, SystemUser
from sync.model.act import Appointment
from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import (
    ActDeliveryMethod,
    CredentialRetrieval,
    EmailAddressApproval,
    EntityType,
    ParticipationType,
    ServerType,
    TestStatus,
)
from sync.settings import Settings
from sync.store import Store
from tests.ews.fixtures import EWS_PASSWORD
from tests.ews.server import EwsServer
from tests.graph.fixtures import GRAPH_TENANT
from tests.graph.server import GraphServer
from tests.integration.act import remote
from tests.integration.act.remote import ActRemote, EwsRemote, GraphRemote

ALICE = remote.ALICE
SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


@dataclass
class ActWorld:
    store: Store
    server: EwsServer | GraphServer
    connector: ActConnector
    mailbox: Mailbox
    profile: EmailServerProfile
    user: EntityRef
    remote: ActRemote

    @property
    def ews(self) -> EwsServer:
        assert isinstance(self.server, EwsServer), "this test runs against the EWS test server only"
        return self.server

    @property
    def graph(self) -> GraphServer:
        assert isinstance(self.server, GraphServer), "this test runs against the Graph test server only"
        return self.server

    @property
    def records(self) -> ActRecords:
        return ActRecords(self.store)

    def cycle(self) -> ActReport:
        mailbox = self.store.get_mailbox(self.mailbox.id)
        exchange = self.connector.open_act(mailbox, self.profile)
        filters = {f.object_type: f.rule for f in self.store.sync_filters.partition(self.user.id)}
        return ActCycle(self.store, mailbox, exchange, now=lambda: datetime.now(UTC), filters=filters).run()

    def meeting(self, subject: str = "Planning", **fields: object) -> Appointment:
        """An appointment Alice organizes, three days from now."""
        values: dict[str, object] = {
            "subject": subject,
            "scheduled_start": SOON,
            "scheduled_end": SOON + timedelta(hours=1),
            "parties": [ActivityParty(participation=ParticipationType.ORGANIZER, party=self.user)],
            "owner_user_id": self.user.id,
        }
        created = self.records.create(Appointment.model_validate(values | fields))
        assert isinstance(created, Appointment)
        return created

    def link(self, object_type: EntityType, object_id: str) -> str | None:
        found = self.store.act_links.find(self.mailbox.id, object_type, object_id)
        return found.exchange_entry_id if found else None


def _user_mailbox(store: Store, profile: EmailServerProfile) -> tuple[EntityRef, Mailbox]:
    user, mailbox = Provisioning(store).create_user(
        SystemUser(full_name="Alice", internal_email_address=f"alice-{uuid.uuid4().hex[:6]}@crm.test")
    )
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_address = ALICE  # her Exchange mailbox
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.is_email_address_approved_by_o365_admin = True  # R-ELIG-7 for Exchange Online
    mailbox.allow_credentials_for_email_processing = True
    mailbox.username = ALICE
    mailbox.act_method = ActDeliveryMethod.SERVER_SIDE_SYNC
    mailbox.act_status = TestStatus.SUCCESS
    return EntityRef(type=EntityType.SYSTEM_USER, id=user.id), mailbox


@pytest.fixture
def ews_act(
    isolated_store: Store, settings: Settings, test_ca: TestCA, ews_server: EwsServer, ews_trust: None
) -> Iterator[ActWorld]:
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert)})
    box = SecretBox(own.aes_key())
    profile = EmailServerProfile(
        name=f"Exchange {uuid.uuid4().hex[:6]}",
        server_type=ServerType.EXCHANGE_SERVER,
        incoming_server_location=ews_server.url,
        incoming_credential_retrieval=CredentialRetrieval.USER_OR_QUEUE,
    )
    profile = isolated_store.profiles.insert(profile)
    user, mailbox = _user_mailbox(isolated_store, profile)
    seal_field(box, mailbox, "password", EWS_PASSWORD)
    mailbox = isolated_store.mailboxes.update(mailbox)
    connector = EwsConnector(own, box, None)
    yield ActWorld(isolated_store, ews_server, connector, mailbox, profile, user, EwsRemote(ews_server))


@pytest.fixture
def act(ews_act: ActWorld) -> ActWorld:
    """Through EWS (a module may override ``act`` with ``act_any``)."""
    return ews_act


def graph_world(store: Store, settings: Settings, test_ca: TestCA, entra: EntraMock, server: GraphServer) -> ActWorld:
    """Alice's Exchange Online mailbox on the Graph test server, reached with the profile's app registration."""
    own = settings.model_copy(update={"extra_ca_file": str(test_ca.ca_cert), "entra_authority": entra.authority})
    box = SecretBox(own.aes_key())
    server.add_mailbox(ALICE)
    profile = EmailServerProfile(
        name=f"Exchange Online {uuid.uuid4().hex[:6]}",
        server_type=ServerType.EXCHANGE_ONLINE,
        graph_url=server.base_url,
        incoming_credential_retrieval=CredentialRetrieval.SERVER_TO_SERVER,
        exchange_online_tenant_id=GRAPH_TENANT,
        oauth_client_id=CLIENT_ID,
    )
    seal_field(box, profile, "oauth_client_secret", CLIENT_SECRET)
    profile = store.profiles.insert(profile)
    user, mailbox = _user_mailbox(store, profile)
    mailbox = store.mailboxes.update(mailbox)
    tokens = TokenProvider(store.token_cache, box, entra.authority, own.extra_ca_file)
    connector = ExchangeActMailboxes(EwsConnector(own, box, tokens), GraphConnector(own, box, tokens))
    return ActWorld(store, server, connector, mailbox, profile, user, GraphRemote(server))


@pytest.fixture(params=["ews", "graph"])
def act_any(request: pytest.FixtureRequest, isolated_store: Store, settings: Settings, test_ca: TestCA) -> ActWorld:
    """The test once through EWS and once through Microsoft Graph."""
    if request.param == "ews":
        world: ActWorld = request.getfixturevalue("ews_act")
        return world
    server: GraphServer = request.getfixturevalue("graph_server")
    entra: EntraMock = request.getfixturevalue("graph_entra")
    return graph_world(isolated_store, settings, test_ca, entra, server)
