"""Names of every table, queue and blob container the service uses.

Infrastructure (``infra/``) must create each of these; a test compares the two. A non-empty
``SYNC_STORAGE_PREFIX`` is put in front of every name so several test runs can share one account.
"""

from __future__ import annotations

from enum import StrEnum


class Table(StrEnum):
    ORGANIZATION = "Organization"
    PROFILES = "Profiles"
    MAILBOXES = "Mailboxes"
    USERS = "Users"
    QUEUES = "Queues"
    CONTACTS = "Contacts"
    ACCOUNTS = "Accounts"
    LEADS = "Leads"
    EMAILS = "Emails"
    QUEUE_ITEMS = "QueueItems"
    SYNC_ID_MAPPINGS = "SyncIdMappings"
    TRACKING_FOLDERS = "TrackingFolders"
    ALERTS = "Alerts"
    ADDRESS_INDEX = "AddressIndex"
    DUE_INDEX = "DueIndex"
    MESSAGE_INDEX = "MessageIndex"
    TOKEN_INDEX = "TokenIndex"
    CONVERSATION_INDEX = "ConversationIndex"
    ITEM_FAILURES = "ItemFailures"
    EMAIL_HASH_INDEX = "EmailHashIndex"
    OUTBOX = "Outbox"
    CONNECTION_SLOTS = "ConnectionSlots"
    TOKEN_CACHE = "TokenCache"
    APPOINTMENTS = "Appointments"
    TASKS = "Tasks"
    SYNC_FILTERS = "SyncFilters"
    ACT_DUE_INDEX = "ActDueIndex"
    MAILBOX_ADDRESSES = "MailboxAddresses"
    CYCLE_HISTORY = "CycleHistory"
    SYNC_TOTALS = "SyncTotals"
    UNRESOLVED_INDEX = "UnresolvedIndex"
    NOT_TRACKED_INDEX = "NotTrackedIndex"
    CONSOLE_SESSIONS = "ConsoleSessions"
    PENDING_CONSENTS = "PendingConsents"
    PUSH_SUBSCRIPTIONS = "PushSubscriptions"
    TEST_ENABLE_INDEX = "TestEnableIndex"


class Queue(StrEnum):
    MAILBOX_WORK = "mailbox-work"
    MAILBOX_WORK_POISON = "mailbox-work-poison"
    MAILBOX_PUSH = "mailbox-push"  # cycles a change notification asked for: never behind a polling wave
    MAILBOX_PUSH_POISON = "mailbox-push-poison"
    MAILBOX_CLAIMS = "mailbox-claims"
    MAILBOX_CLAIMS_POISON = "mailbox-claims-poison"
    OUTGOING_MAIL = "outgoing-mail"
    OUTGOING_MAIL_POISON = "outgoing-mail-poison"
    ACT_WORK = "act-work"
    ACT_WORK_POISON = "act-work-poison"
    TEST_AND_ENABLE = "test-and-enable"
    TEST_AND_ENABLE_POISON = "test-and-enable-poison"


class Container(StrEnum):
    ATTACHMENTS = "attachments"
    BODIES = "bodies"
    QUARANTINE = "quarantine"


def table_name(prefix: str, table: Table) -> str:
    """Table names are alphanumeric: the prefix is glued on."""
    return f"{prefix}{table.value}"


def queue_name(prefix: str, queue: Queue | str) -> str:
    """Also takes a name only a trigger knows (the dev host prefixes every trigger's queue and its poison queue)."""
    name = queue.value if isinstance(queue, Queue) else queue
    return f"{prefix}-{name}" if prefix else name


def container_name(prefix: str, container: Container) -> str:
    return f"{prefix}-{container.value}" if prefix else container.value
