"""End to end through the Functions app: its handlers driven by the dev host from real Azurite queues and
timers, a profile reaching Exchange with app-only tokens from the Entra mock: Exchange Online through
Microsoft Graph, and Exchange Server (hybrid, modern authentication) through EWS. ``deployment`` runs each
test once per API; ``ews_deployment`` and ``graph_deployment`` only with one.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from types import ModuleType

import pytest

from devstack import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.act.records import ActRecords
from sync.api.context import ApiContext
from sync.auth.secrets import SecretBox, seal_field
from sync.crm.records import RecordService
from sync.devhost import DevHost, RunReport
from sync.mailboxes.provisioning import Provisioning
from sync.model import Account, Contact, EmailServerProfile, Mailbox, SystemUser
from sync.model.act import Appointment
from sync.model.email import ActivityParty
from sync.model.fields import utcnow
from sync.model.options import (
    ActDeliveryMethod,
    CredentialRetrieval,
    EmailAddressApproval,
    ExchangeApi,
    FilteringMethod,
    ParticipationType,
    ServerType,
    TestStatus,
)
from sync.scheduling.scheduler import schedule_now
from sync.settings import Settings
from sync.store import Store
from tests.ews.server import EwsServer
from tests.graph.server import GraphServer
from tests.integration.exchange.doubles import EwsDouble, ExchangeDouble, GraphDouble

TENANT = "contoso-ews"
ALICE = "alice@example.test"
BOB = "bob@example.test"
SERVICE_ACCOUNT = "svc@example.test"
SERVICE_PASSWORD = "service-secret"


@pytest.fixture(scope="module")
def entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / f"entra-{uuid.uuid4().hex[:6]}", test_ca, tenant=TENANT) as mock:
        yield mock


@contextlib.contextmanager
def exchange_double(backend: str, test_ca: TestCA, entra: EntraMock) -> Iterator[ExchangeDouble]:
    """The EWS or the Graph test server, with Alice's and Bob's mailboxes, trusting the Entra mock's keys."""
    jwks = f"{entra.authority}/{TENANT}/discovery/v2.0/keys"
    if backend == "graph":
        with GraphServer(test_ca, jwks) as graph:
            graph.add_mailbox(ALICE)
            graph.add_mailbox(BOB)
            yield GraphDouble(graph)
        return
    trust = ssl.create_default_context(cafile=str(test_ca.ca_cert))
    with EwsServer(
        test_ca.server_cert, test_ca.server_key, users={SERVICE_ACCOUNT: SERVICE_PASSWORD},
        jwks_url=jwks, jwks_ssl_context=trust,
    ) as ews:  # fmt: skip
        ews.add_mailbox(ALICE)
        ews.add_mailbox(BOB)
        yield EwsDouble(ews)


@dataclass
class Deployment:
    """The app as deployed: its settings, store and dev host, with one organization in it."""

    settings: Settings
    store: Store
    box: SecretBox
    app: ModuleType
    host: DevHost
    server: ExchangeDouble
    profile: EmailServerProfile
    customer: Account
    contact: Contact
    minutes: int = 0  # how far the host's timer clock is ahead of real time

    def run(self) -> RunReport:
        """The host's next minute: the scheduler's timer fires, then every queue is drained."""
        self.minutes += 2
        return self.host.run_once(utcnow() + timedelta(minutes=self.minutes))

    def cycle(self, mailbox: Mailbox) -> RunReport:
        """Make ``mailbox`` due now, then run the host."""
        schedule_now(self.store, mailbox.id)
        return self.run()

    def user_mailbox(
        self,
        address: str,
        filtering: FilteringMethod = FilteringMethod.ALL_EMAIL,
        profile: EmailServerProfile | None = None,
    ) -> Mailbox:
        _, mailbox = Provisioning(self.store).create_user(
            SystemUser(full_name=f"User {address}", internal_email_address=address, incoming_filtering_method=filtering)
        )
        mailbox = self.store.get_mailbox(mailbox.id)
        mailbox.email_server_profile_id = (profile or self.profile).id
        mailbox.approval = EmailAddressApproval.APPROVED
        mailbox.is_email_address_approved_by_o365_admin = True  # R-ELIG-7 for Exchange Online
        mailbox.outgoing_status = TestStatus.SUCCESS  # as after a Test & Enable (R-OUT-3)
        self.store.mailboxes.update(mailbox)
        return schedule_now(self.store, mailbox.id)

    def exchange_profile(self, **fields: object) -> EmailServerProfile:
        secret = fields.pop("client_secret", CLIENT_SECRET)
        password = fields.pop("password", None)
        graph = self.server.name == "graph"
        values: dict[str, object] = {  # EWS with app-only OAuth: Exchange Server hybrid (modern authentication)
            "name": f"Exchange {uuid.uuid4().hex[:6]}",
            "server_type": ServerType.EXCHANGE_ONLINE if graph else ServerType.EXCHANGE_SERVER_HYBRID,
            "exchange_api": ExchangeApi.GRAPH if graph else ExchangeApi.EWS,
            "graph_url": self.server.url if graph else None,
            "default_server_location": None if graph else self.server.url,
            "incoming_credential_retrieval": CredentialRetrieval.SERVER_TO_SERVER,
            "exchange_online_tenant_id": TENANT,
            "oauth_client_id": CLIENT_ID,
        }
        profile = EmailServerProfile(**(values | fields))
        seal_field(self.box, profile, "oauth_client_secret", str(secret))
        if password is not None:
            seal_field(self.box, profile, "incoming_password", str(password))
        return self.store.profiles.insert(profile)

    def emails(self, message_id: str) -> list[str]:
        return [e.id for e in self.store.emails.query("message_id eq @m", {"m": message_id})]

    def act_mailbox(self, address: str) -> Mailbox:
        """A user's mailbox synchronizing appointments, contacts and tasks, tested and on the ACT schedule."""
        mailbox = self.user_mailbox(address)

        def act_on(m: Mailbox) -> None:
            m.act_method = ActDeliveryMethod.SERVER_SIDE_SYNC

        self.store.mailboxes.modify(mailbox.id, "mailbox", act_on)
        report = ApiContext(self.settings, lambda: self.store).test_and_enable().run(mailbox.id)
        assert report.act is TestStatus.SUCCESS
        return self.store.get_mailbox(mailbox.id)

    def meeting(self, mailbox: Mailbox, subject: str, start: datetime) -> Appointment:
        """An hour's appointment in the CRM that the mailbox's user organizes."""
        assert mailbox.owner is not None
        made = ActRecords(self.store).create(
            Appointment(
                subject=subject, scheduled_start=start, scheduled_end=start + timedelta(hours=1),
                parties=[ActivityParty(participation=ParticipationType.ORGANIZER, party=mailbox.owner)],
            )
        )  # fmt: skip
        assert isinstance(made, Appointment)
        return made


def message(to: str, *, sender: str = "carol@fabrikam.test", subject: str = "Hello") -> tuple[bytes, str]:
    msg = EmailMessage()
    msg["From"] = f"Carol <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="fabrikam.test")
    msg.set_content("Hi there")
    return msg.as_bytes(), str(msg["Message-ID"])


@contextlib.contextmanager
def deploy(
    backend: str, settings: Settings, test_ca: TestCA, entra: EntraMock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    own = settings.model_copy(
        update={
            "storage_prefix": "e" + uuid.uuid4().hex[:8],
            "extra_ca_file": str(test_ca.ca_cert),
            "entra_authority": entra.authority,
        }
    )
    store = Store.from_settings(own)
    store.account.ensure_created()
    assert own.storage_connection_string is not None
    for name, value in {
        "AzureWebJobsStorage": own.storage_connection_string.get_secret_value(),
        "SYNC_SECRET_ENCRYPTION_KEY": own.secret_encryption_key.get_secret_value(),
        "SYNC_STORAGE_PREFIX": own.storage_prefix,
        "SYNC_EXTRA_CA_FILE": str(test_ca.ca_cert),
        "SYNC_ENTRA_AUTHORITY": entra.authority,
        "SYNC_ALLOW_LOOPBACK_MAIL_HOSTS": "true",  # the test servers listen on 127.0.0.1
    }.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("function_app", None)
    app = importlib.import_module("function_app")
    box = SecretBox(own.aes_key())
    records = RecordService(store)
    contact = records.create(Contact(first_name="Carol", last_name="Clark", email_address1="carol@fabrikam.test"))
    customer = records.create(Account(name="Fabrikam"))
    with exchange_double(backend, test_ca, entra) as server:
        world = Deployment(own, store, box, app, DevHost(app.app, own), server, None, customer, contact)  # type: ignore[arg-type]
        world.profile = world.exchange_profile()
        try:
            yield world
        finally:
            app.services.outgoing_sender.close()
            sys.modules.pop("function_app", None)


@pytest.fixture(params=["ews", "graph"])
def deployment(
    request: pytest.FixtureRequest, settings: Settings, test_ca: TestCA, entra: EntraMock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Deployment]:  # fmt: skip
    """A deployment whose Exchange Online profile uses EWS, then one that uses Graph."""
    with deploy(str(request.param), settings, test_ca, entra, monkeypatch) as world:
        yield world


@pytest.fixture
def ews_deployment(
    settings: Settings, test_ca: TestCA, entra: EntraMock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """For what only EWS has: Exchange Server on premises (service accounts, Basic), X-AnchorMailbox."""
    with deploy("ews", settings, test_ca, entra, monkeypatch) as world:
        yield world


@pytest.fixture
def graph_deployment(
    settings: Settings, test_ca: TestCA, entra: EntraMock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Deployment]:
    """For what only Graph has: delta links that expire, JSON batches."""
    with deploy("graph", settings, test_ca, entra, monkeypatch) as world:
        yield world
