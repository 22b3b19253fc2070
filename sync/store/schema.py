"""Which table holds each entity, and its keys. Each key is chosen for the query it serves.

| table           | PartitionKey               | RowKey                   | serves                                  |
|-----------------|----------------------------|--------------------------|-----------------------------------------|
| Organization    | ``organization``           | ``settings``             | point read of the one settings row      |
| Profiles        | profile id                 | ``profile``              | point read; admin list (paged scan)     |
| Mailboxes       | mailbox id                 | ``mailbox``              | point read; lease CAS on one row; the   |
|                 |                            |                          | mailbox's own state rows share the      |
|                 |                            |                          | partition (entity-group transactions)   |
| Users, Queues,  | record id                  | ``record``               | point read by id (parties, owners);     |
| Contacts,       |                            |                          | admin list (paged scan)                 |
| Accounts, Leads |                            |                          |                                         |
| Emails          | activity id                | ``email``                | point read by id from every index       |
| QueueItems      | queue id                   | queue item id            | a queue's items (one partition)         |
| SyncIdMappings  | mailbox id                 | ``c|type|record id``,    | a record's link in a mailbox; an item's |
|                 |                            | ``x|sha256(item id)``    | record; pending links (one partition),  |
|                 |                            |                          | see ``store/act_links.py``              |
| Appointments,   | activity id                | ``record``               | point read by id                        |
| Tasks           |                            |                          |                                         |
| SyncFilters     | user id                    | record type code         | a user's ACT filters (one partition)    |
| TrackingFolders | mailbox id                 | tracking folder id       | a mailbox's <= 25 rules (one partition) |
| Alerts          | regarding record id        | alert code, offset       | one open alert per (record, code);      |
|                 |                            |                          | a record's alerts (one partition)       |
| AddressIndex    | escaped lower-case address | ``type|id|column``       | resolve an address: one partition read  |
| ItemFailures    | mailbox id                 | sha256(message key)      | why a mailbox's messages were not       |
|                 |                            |                          | tracked (one row per message, upserted) |
| TokenCache      | escaped client id          | escaped ``host|tenant``  | MSAL's sealed token cache of one app in |
|                 |                            |                          | one tenant: a point read at cold start  |
| CycleHistory    | mailbox id                 | ``<workload>|<n mod 50>``| a mailbox's last cycles: a ring, one    |
|                 |                            | and ``<workload>|head``  | partition (``store/cycle_history.py``)  |
| SyncTotals      | ``t<yyyymmddHH><10 min>``  | shard ``00``..``15``     | counters per 10 minutes; the summary's  |
|                 | and ``snapshot``           |                          | snapshot (``store/sync_totals.py``)     |
| PendingConsents | sha256(OAuth state)        | ``consent``              | the consent callback: a point read by   |
|                 |                            |                          | the state it gets back                  |

The due index (``store/due_index.py``), the Test & Enable index (``store/test_enable_index.py``) and the
correlation indexes (``store/correlation_index.py``) document their own keys.

Owned mailboxes get a deterministic id derived from their owner (:func:`owned_mailbox_id`), so
"one mailbox per owner" is enforced by the insert-if-absent of the mailbox row itself.
"""

from __future__ import annotations

import uuid

from sync.model import (
    Account,
    Alert,
    Contact,
    Email,
    EmailServerProfile,
    ItemFailure,
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
from sync.model.fields import EntityRef
from sync.store.keys import hashed_key
from sync.store.repository import KeyScheme

ORGANIZATION_KEYS: KeyScheme[OrganizationSettings] = KeyScheme(lambda o: "organization", lambda o: "settings")
PROFILE_KEYS: KeyScheme[EmailServerProfile] = KeyScheme(lambda p: p.id, lambda p: "profile")
MAILBOX_KEYS: KeyScheme[Mailbox] = KeyScheme(lambda m: m.id, lambda m: "mailbox")
CONSENT_KEYS: KeyScheme[PendingConsent] = KeyScheme(lambda c: c.state_digest, lambda c: "consent")
USER_KEYS: KeyScheme[SystemUser] = KeyScheme(lambda r: r.id, lambda r: "record")
QUEUE_KEYS: KeyScheme[Queue] = KeyScheme(lambda r: r.id, lambda r: "record")
CONTACT_KEYS: KeyScheme[Contact] = KeyScheme(lambda r: r.id, lambda r: "record")
ACCOUNT_KEYS: KeyScheme[Account] = KeyScheme(lambda r: r.id, lambda r: "record")
LEAD_KEYS: KeyScheme[Lead] = KeyScheme(lambda r: r.id, lambda r: "record")
EMAIL_KEYS: KeyScheme[Email] = KeyScheme(lambda e: e.id, lambda e: "email")
QUEUE_ITEM_KEYS: KeyScheme[QueueItem] = KeyScheme(lambda q: q.queue_id, lambda q: q.id)
APPOINTMENT_KEYS: KeyScheme[Appointment] = KeyScheme(lambda r: r.id, lambda r: "record")
TASK_KEYS: KeyScheme[Task] = KeyScheme(lambda r: r.id, lambda r: "record")
SYNC_FILTER_KEYS: KeyScheme[SyncFilter] = KeyScheme(lambda f: f.user_id, lambda f: str(int(f.object_type)))
TRACKING_FOLDER_KEYS: KeyScheme[MailboxTrackingFolder] = KeyScheme(lambda f: f.mailbox_id, lambda f: f.id)
ITEM_FAILURE_KEYS: KeyScheme[ItemFailure] = KeyScheme(lambda f: f.mailbox_id, lambda f: hashed_key(f.message_key))
ALERT_KEYS: KeyScheme[Alert] = KeyScheme(lambda a: a.regarding.id, lambda a: alert_row_key(a.code))

_MAILBOX_NAMESPACE = uuid.UUID("6f1e8a52-3c44-4c1e-9a55-0d6f3b1f7a10")


def owned_mailbox_id(owner: EntityRef) -> str:
    """The one possible id of the mailbox of a user or queue (R-PROV-1)."""
    return str(uuid.uuid5(_MAILBOX_NAMESPACE, f"{int(owner.type)}:{owner.id}"))


def alert_row_key(code: int) -> str:
    """Alert codes may be negative (Dynamics error codes): offset so the key sorts and stays unique."""
    return f"{code + 2**31:011d}"
