"""Mailbox lifecycle against real Azurite: R-PROV-1/2/7/15, R-FWD-3/4, secrets at rest."""

from __future__ import annotations

import threading
import uuid

import pytest

from sync.auth.secrets import SecretBox, open_field, seal_field
from sync.errors import NotFound, ValidationFailed
from sync.mailboxes.provisioning import MailboxAlreadyExists, Provisioning
from sync.model import EmailServerProfile, OrganizationSettings, Queue, SystemUser
from sync.model.fields import EntityRef
from sync.model.options import (
    ActDeliveryMethod,
    EmailAddressApproval,
    EntityType,
    IncomingDeliveryMethod,
    OutgoingDeliveryMethod,
    ServerType,
    StateCode,
)
from sync.store import Store
from sync.store.names import Table, table_name

pytestmark = pytest.mark.integration


def _address(tag: str = "u") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.test"


@pytest.fixture(scope="module")
def default_profile(store: Store) -> EmailServerProfile:
    """The organization's default profile (the org row is shared by the session: set it once)."""
    profile = store.profiles.insert(EmailServerProfile(name="Default IMAP", server_type=ServerType.IMAP_SMTP))
    org = store.get_organization()
    org.default_email_server_profile_id = profile.id
    store.organization.upsert(org)
    return profile


def _user() -> SystemUser:
    return SystemUser(full_name="Ann User", internal_email_address=_address())


def test_creating_a_user_creates_its_mailbox(store: Store, default_profile: EmailServerProfile) -> None:
    user, mailbox = Provisioning(store).create_user(_user())
    stored = store.get_mailbox(mailbox.id)
    assert stored.owner == EntityRef(type=EntityType.SYSTEM_USER, id=user.id)
    assert stored.email_address == user.internal_email_address
    assert stored.name == "Ann User"
    assert store.get_user(user.id).default_mailbox_id == mailbox.id
    assert stored.email_server_profile_id == default_profile.id  # R-PROV-2: method is server-side sync
    assert stored.incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC
    assert stored.approval is EmailAddressApproval.PENDING_APPROVAL


def test_creating_a_queue_creates_its_mailbox_without_act(store: Store, default_profile: EmailServerProfile) -> None:
    queue, mailbox = Provisioning(store).create_queue(Queue(name="Support", email_address=_address("q")))
    stored = store.get_mailbox(mailbox.id)
    assert stored.is_queue_mailbox
    assert stored.act_method is ActDeliveryMethod.NONE
    assert store.get_queue(queue.id).default_mailbox_id == mailbox.id


def test_no_profile_when_no_method_uses_server_side_sync(store: Store, default_profile: EmailServerProfile) -> None:
    _, mailbox = Provisioning(store).create_user(
        _user(),
        incoming=IncomingDeliveryMethod.NONE,
        outgoing=OutgoingDeliveryMethod.NONE,
        act=ActDeliveryMethod.NONE,
    )
    assert store.get_mailbox(mailbox.id).email_server_profile_id is None


def test_a_second_mailbox_for_the_same_owner_is_refused(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    user, _ = provisioning.create_user(_user())
    with pytest.raises(MailboxAlreadyExists):
        provisioning.create_mailbox_for(EntityRef(type=EntityType.SYSTEM_USER, id=user.id))


def test_racing_requests_create_exactly_one_mailbox(store: Store, default_profile: EmailServerProfile) -> None:
    """Eight threads ask for the same queue's mailbox at once: one wins, seven are refused."""
    queue = Queue(name="Race", email_address=_address("race"))
    Provisioning(store).records.create(queue)
    owner = EntityRef(type=EntityType.QUEUE, id=queue.id)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            Provisioning(store).create_mailbox_for(owner)
            result = "created"
        except MailboxAlreadyExists:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["created"] + ["refused"] * 7
    rows = list(store.mailboxes.query("owner__json eq @o", {"o": owner.model_dump_json()}))
    assert len(rows) == 1


def test_ensure_mailbox_repairs_an_owner_left_without_one(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    queue = provisioning.records.create(Queue(name="Orphan", email_address=_address("orphan")))
    owner = EntityRef(type=EntityType.QUEUE, id=queue.id)
    first = provisioning.ensure_mailbox(owner)
    assert provisioning.ensure_mailbox(owner).id == first.id


def test_mailbox_for_unknown_owner_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        Provisioning(store).create_mailbox_for(EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())))


def _approve(store: Store, user: SystemUser, mailbox_id: str) -> None:
    user = store.get_user(user.id)
    user.approval = EmailAddressApproval.APPROVED
    store.users.update(user)
    mailbox = store.get_mailbox(mailbox_id)
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.email_address_approved_by = "admin"
    store.mailboxes.update(mailbox)


def test_changing_the_mailbox_address_changes_the_user_and_resets_approval(
    store: Store, default_profile: EmailServerProfile
) -> None:
    provisioning = Provisioning(store)
    user, mailbox = provisioning.create_user(_user())
    _approve(store, user, mailbox.id)
    old, new = user.internal_email_address, _address("new")
    provisioning.change_mailbox_address(mailbox.id, new)
    stored_user, stored_box = store.get_user(user.id), store.get_mailbox(mailbox.id)
    assert stored_user.internal_email_address == new == stored_box.email_address
    assert stored_box.approval is EmailAddressApproval.PENDING_APPROVAL
    assert stored_user.approval is EmailAddressApproval.PENDING_APPROVAL
    assert stored_box.email_address_approved_by is None
    assert store.address_index.lookup(old) == []
    assert [m.id for m in store.address_index.lookup(new)] == [user.id]


def test_changing_the_user_address_changes_the_mailbox(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    user, mailbox = provisioning.create_user(_user())
    _approve(store, user, mailbox.id)
    new = _address("renamed")
    provisioning.change_user_address(user.id, new)
    stored_box = store.get_mailbox(mailbox.id)
    assert stored_box.email_address == new
    assert stored_box.approval is EmailAddressApproval.PENDING_APPROVAL


def test_same_address_keeps_approval(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    user, mailbox = provisioning.create_user(_user())
    _approve(store, user, mailbox.id)
    provisioning.change_mailbox_address(mailbox.id, user.internal_email_address)
    assert store.get_mailbox(mailbox.id).approval is EmailAddressApproval.APPROVED


def test_changing_the_queue_address_changes_its_mailbox(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    queue, mailbox = provisioning.create_queue(Queue(name="Sales", email_address=_address("sales")))
    new = _address("sales2")
    provisioning.change_queue_address(queue.id, new)
    assert store.get_mailbox(mailbox.id).email_address == new


def test_forward_mailbox_rules(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    forward = provisioning.create_forward_mailbox(
        "Collector", _address("fwd"), default_profile.id, delete_emails_after_processing=True
    )
    stored = store.get_mailbox(forward.id)
    assert stored.is_forward_mailbox and stored.owner is None
    assert stored.outgoing_method is OutgoingDeliveryMethod.NONE
    assert stored.delete_emails_after_processing
    with pytest.raises(ValidationFailed, match="profile"):
        provisioning.create_forward_mailbox("No profile", _address("fwd"), str(uuid.uuid4()))


def test_deactivating_a_user_deactivates_its_mailbox(store: Store, default_profile: EmailServerProfile) -> None:
    provisioning = Provisioning(store)
    user, mailbox = provisioning.create_user(_user())
    provisioning.set_user_state(user.id, StateCode.INACTIVE)
    assert store.get_mailbox(mailbox.id).state is StateCode.INACTIVE
    assert not store.address_index.lookup(user.internal_email_address)[0].active


def test_no_plaintext_secret_reaches_storage(
    store: Store, secret_box: SecretBox, default_profile: EmailServerProfile
) -> None:
    """Read the raw entities back from Azurite: the passwords are nowhere in them."""
    mailbox_secret, profile_secret, client_secret = (
        "Mbx-Pa55-" + uuid.uuid4().hex,
        "Prf-Pa55-" + uuid.uuid4().hex,
        "Cli-" + uuid.uuid4().hex,
    )
    _, mailbox = Provisioning(store).create_user(_user())
    mailbox = store.get_mailbox(mailbox.id)
    seal_field(secret_box, mailbox, "password", mailbox_secret)
    store.mailboxes.update(mailbox)
    profile = EmailServerProfile(name="Secret", server_type=ServerType.EXCHANGE_ONLINE)
    seal_field(secret_box, profile, "incoming_password", profile_secret)
    seal_field(secret_box, profile, "oauth_client_secret", client_secret)
    store.profiles.insert(profile)

    tables = store.account.tables
    raw_mailbox = tables.get_table_client(table_name(store.account.prefix, Table.MAILBOXES)).get_entity(
        mailbox.id, "mailbox"
    )
    raw_profile = tables.get_table_client(table_name(store.account.prefix, Table.PROFILES)).get_entity(
        profile.id, "profile"
    )
    raw_text = repr(dict(raw_mailbox)) + repr(dict(raw_profile))
    for secret in (mailbox_secret, profile_secret, client_secret):
        assert secret not in raw_text
    assert str(raw_mailbox["password"]).startswith("aesgcm1:")

    loaded = store.get_mailbox(mailbox.id)
    assert open_field(secret_box, loaded, "password") == mailbox_secret
    assert mailbox_secret not in repr(loaded)
    loaded_profile = store.get_profile(profile.id)
    assert open_field(secret_box, loaded_profile, "oauth_client_secret") == client_secret
    assert loaded_profile.oauth_client_secret_is_set


def test_organization_settings_round_trip(store: Store) -> None:
    org = store.get_organization()
    assert isinstance(org, OrganizationSettings)
    org.change_tracking_prefix("TKT")
    store.organization.upsert(org)
    stored = store.get_organization()
    assert stored.all_tracking_prefixes()[:2] == ["TKT", "CRM"]
    stored.change_tracking_prefix("CRM")
    store.organization.update(stored)
