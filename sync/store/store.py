"""The service's storage in one object: a repository per entity, the address index and blobs."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sync.model import (
    Account,
    Alert,
    Contact,
    Email,
    EmailServerProfile,
    Lead,
    Mailbox,
    MailboxTrackingFolder,
    OrganizationSettings,
    Queue,
    QueueItem,
    SystemUser,
)
from sync.model.act import Appointment, SyncFilter, Task
from sync.model.consent import PendingConsent
from sync.model.options import EntityType
from sync.model.records import EmailEnabled
from sync.settings import Settings
from sync.store import schema
from sync.store.account import RequestCounter, StorageAccount
from sync.store.act_links import ActLinks
from sync.store.address_index import AddressIndex
from sync.store.blobs import BlobStore
from sync.store.correlation_index import MessageIndex, SmartMatchIndex, SummaryIndex
from sync.store.cycle_history import CycleHistory
from sync.store.due_index import DueIndex
from sync.store.expiring_rows import ExpiringRows
from sync.store.mailbox_addresses import MailboxAddresses
from sync.store.names import Table
from sync.store.not_tracked_index import ItemFailures, NotTrackedIndex
from sync.store.push_subscriptions import PushSubscriptions
from sync.store.repository import Repository
from sync.store.sync_totals import SyncTotals
from sync.store.test_enable_index import MailboxRepository, TestEnableIndex
from sync.store.token_cache import TokenCacheStore
from sync.store.unresolved_index import UnresolvedIndex

R = TypeVar("R", bound=EmailEnabled)


class Store:
    """Typed access to every table; build one per process and share it."""

    def __init__(self, account: StorageAccount) -> None:
        self.account = account
        self.organization = Repository(
            account.table(Table.ORGANIZATION), OrganizationSettings, schema.ORGANIZATION_KEYS
        )
        self.profiles = Repository(account.table(Table.PROFILES), EmailServerProfile, schema.PROFILE_KEYS)
        self.test_enable_index = TestEnableIndex(account.table(Table.TEST_ENABLE_INDEX))
        self.mailboxes: Repository[Mailbox] = MailboxRepository(account.table(Table.MAILBOXES), self.test_enable_index)
        self.users = Repository(account.table(Table.USERS), SystemUser, schema.USER_KEYS)
        self.queues = Repository(account.table(Table.QUEUES), Queue, schema.QUEUE_KEYS)
        self.contacts = Repository(account.table(Table.CONTACTS), Contact, schema.CONTACT_KEYS)
        self.accounts = Repository(account.table(Table.ACCOUNTS), Account, schema.ACCOUNT_KEYS)
        self.leads = Repository(account.table(Table.LEADS), Lead, schema.LEAD_KEYS)
        self.emails = Repository(account.table(Table.EMAILS), Email, schema.EMAIL_KEYS)
        self.queue_items = Repository(account.table(Table.QUEUE_ITEMS), QueueItem, schema.QUEUE_ITEM_KEYS)
        self.act_links = ActLinks(account.table(Table.SYNC_ID_MAPPINGS))
        self.appointments = Repository(account.table(Table.APPOINTMENTS), Appointment, schema.APPOINTMENT_KEYS)
        self.tasks = Repository(account.table(Table.TASKS), Task, schema.TASK_KEYS)
        self.sync_filters = Repository(account.table(Table.SYNC_FILTERS), SyncFilter, schema.SYNC_FILTER_KEYS)
        self.tracking_folders = Repository(
            account.table(Table.TRACKING_FOLDERS), MailboxTrackingFolder, schema.TRACKING_FOLDER_KEYS
        )
        self.alerts = Repository(account.table(Table.ALERTS), Alert, schema.ALERT_KEYS)
        self.not_tracked_index = NotTrackedIndex(account.table(Table.NOT_TRACKED_INDEX))
        self.item_failures = ItemFailures(account.table(Table.ITEM_FAILURES), self.not_tracked_index)
        self.address_index = AddressIndex(account.table(Table.ADDRESS_INDEX))
        self.mailbox_addresses = MailboxAddresses(account.table(Table.MAILBOX_ADDRESSES), self.find_mailbox)
        self.message_index = MessageIndex(account.table(Table.MESSAGE_INDEX))
        self.token_index = SummaryIndex(account.table(Table.TOKEN_INDEX), hash_keys=False)
        self.conversation_index = SummaryIndex(account.table(Table.CONVERSATION_INDEX), hash_keys=True)
        self.smart_index = SmartMatchIndex(account.table(Table.EMAIL_HASH_INDEX))
        self.unresolved_index = UnresolvedIndex(account.table(Table.UNRESOLVED_INDEX))
        self.due_index = DueIndex(account.table(Table.DUE_INDEX))
        self.act_due_index = DueIndex(account.table(Table.ACT_DUE_INDEX))
        self.token_cache = TokenCacheStore(account.table(Table.TOKEN_CACHE))
        self.pending_consents = Repository(account.table(Table.PENDING_CONSENTS), PendingConsent, schema.CONSENT_KEYS)
        self.pending_consent_expiry = ExpiringRows(self.pending_consents.table)  # abandoned consents go
        self.blobs = BlobStore(account)
        self.cycle_history = CycleHistory(account.table(Table.CYCLE_HISTORY))
        self.sync_totals = SyncTotals(account.table(Table.SYNC_TOTALS))
        self.push_subscriptions = PushSubscriptions(account.table(Table.PUSH_SUBSCRIPTIONS))

    @classmethod
    def from_settings(cls, settings: Settings, counter: RequestCounter | None = None) -> Store:
        return cls(StorageAccount(settings, counter))

    # --- point reads by id, the keys hidden --------------------------------------------------------
    def get_organization(self) -> OrganizationSettings:
        """The organization's settings; defaults until an administrator saves them."""
        return self.organization.find("organization", "settings") or OrganizationSettings()

    def get_profile(self, profile_id: str) -> EmailServerProfile:
        return self.profiles.get(profile_id, "profile")

    def find_profile(self, profile_id: str) -> EmailServerProfile | None:
        return self.profiles.find(profile_id, "profile")

    def get_mailbox(self, mailbox_id: str) -> Mailbox:
        return self.mailboxes.get(mailbox_id, "mailbox")

    def find_mailbox(self, mailbox_id: str) -> Mailbox | None:
        return self.mailboxes.find(mailbox_id, "mailbox")

    def get_user(self, user_id: str) -> SystemUser:
        return self.users.get(user_id, "record")

    def get_queue(self, queue_id: str) -> Queue:
        return self.queues.get(queue_id, "record")

    def get_email(self, email_id: str) -> Email:
        return self.emails.get(email_id, "email")

    def records(self, entity_type: EntityType) -> Repository[Any]:
        """The repository of an email-enabled record type."""
        repositories: dict[EntityType, Repository[Any]] = {
            EntityType.SYSTEM_USER: self.users,
            EntityType.QUEUE: self.queues,
            EntityType.CONTACT: self.contacts,
            EntityType.ACCOUNT: self.accounts,
            EntityType.LEAD: self.leads,
        }
        return repositories[entity_type]

    def repository_for(self, record: R) -> Repository[R]:
        return cast(Repository[R], self.records(record.entity_type))

    def find_record(self, entity_type: EntityType, record_id: str) -> EmailEnabled | None:
        found: EmailEnabled | None = self.records(entity_type).find(record_id, "record")
        return found
