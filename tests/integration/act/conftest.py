"""A user with an Exchange mailbox on the EWS test server, and the ACT cycle that syncs it (real Azurite)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from devstack import TestCA
from sync.act.cycle import ActCycle, ActReport
from sync.act.records import ActRecords
from sync.auth.secrets import SecretBox, seal_field
from sync.mail.ews.connector import EwsConnector
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

ALICE = "alice@example.test"
SOON = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)


@dataclass
class ActWorld:
    store: Store
    ews: EwsServer
    connector: EwsConnector
    mailbox: Mailbox
    profile: EmailServerProfile
    user: EntityRef

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


@pytest.fixture
def act(
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
    user, mailbox = Provisioning(isolated_store).create_user(
        SystemUser(full_name="Alice", internal_email_address=f"alice-{uuid.uuid4().hex[:6]}@crm.test")
    )
    mailbox = isolated_store.get_mailbox(mailbox.id)
    mailbox.email_address = ALICE  # her Exchange mailbox
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.allow_credentials_for_email_processing = True
    mailbox.username = ALICE
    mailbox.act_method = ActDeliveryMethod.SERVER_SIDE_SYNC
    mailbox.act_status = TestStatus.SUCCESS
    seal_field(box, mailbox, "password", EWS_PASSWORD)
    mailbox = isolated_store.mailboxes.update(mailbox)
    connector = EwsConnector(own, box, None)
    yield ActWorld(
        isolated_store, ews_server, connector, mailbox, profile, EntityRef(type=EntityType.SYSTEM_USER, id=user.id)
    )
