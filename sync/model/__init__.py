"""Entities and option sets (pydantic v2), with Dataverse numeric values and column lengths."""

from sync.model.activities import (
    Alert,
    ExchangeItemLookup,
    ExchangeSyncIdMapping,
    ItemFailure,
    MailboxTrackingFolder,
    QueueItem,
    SchedulingConflict,
)
from sync.model.base import Entity
from sync.model.email import ActivityParty, AttachmentMeta, BlobRef, Email
from sync.model.fields import EntityRef, SealedSecret, normalize_address
from sync.model.mailbox import FolderWatermark, Mailbox
from sync.model.organization import ORGANIZATION_ID, OrganizationSettings
from sync.model.profile import EmailServerProfile, TlsMode
from sync.model.records import RECORD_CLASSES, Account, Contact, EmailEnabled, Lead, Queue, SystemUser

__all__ = [
    "ORGANIZATION_ID",
    "RECORD_CLASSES",
    "Account",
    "ActivityParty",
    "Alert",
    "AttachmentMeta",
    "BlobRef",
    "Contact",
    "Email",
    "EmailEnabled",
    "EmailServerProfile",
    "Entity",
    "EntityRef",
    "ExchangeItemLookup",
    "ExchangeSyncIdMapping",
    "FolderWatermark",
    "ItemFailure",
    "Lead",
    "Mailbox",
    "MailboxTrackingFolder",
    "OrganizationSettings",
    "Queue",
    "QueueItem",
    "SchedulingConflict",
    "SealedSecret",
    "SystemUser",
    "TlsMode",
    "normalize_address",
]
