"""Reusable field types: Dataverse column lengths (N-33), email addresses, record references, sealed secrets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

from sync.model.address_syntax import check_mailbox
from sync.model.options import EntityType

Str20 = Annotated[str, StringConstraints(max_length=20)]
Str36 = Annotated[str, StringConstraints(max_length=36)]
Str50 = Annotated[str, StringConstraints(max_length=50)]
Str80 = Annotated[str, StringConstraints(max_length=80)]
Str100 = Annotated[str, StringConstraints(max_length=100)]
Str120 = Annotated[str, StringConstraints(max_length=120)]
Str200 = Annotated[str, StringConstraints(max_length=200)]
Str250 = Annotated[str, StringConstraints(max_length=250)]
Str256 = Annotated[str, StringConstraints(max_length=256)]
Str320 = Annotated[str, StringConstraints(max_length=320)]
Str500 = Annotated[str, StringConstraints(max_length=500)]
Str800 = Annotated[str, StringConstraints(max_length=800)]
Str1024 = Annotated[str, StringConstraints(max_length=1024)]
Str2000 = Annotated[str, StringConstraints(max_length=2000)]
Str2048 = Annotated[str, StringConstraints(max_length=2048)]
Str2084 = Annotated[str, StringConstraints(max_length=2084)]


def _check_address(value: str) -> str:
    """RFC 5321 mailbox syntax (:mod:`sync.model.address_syntax`); the error never quotes the value."""
    return check_mailbox(value)


EmailAddress = Annotated[str, StringConstraints(max_length=100), AfterValidator(_check_address)]
"""The primary address of a user, queue or mailbox (100 characters, like ``internalemailaddress``)."""

RecordEmailAddress = Annotated[str, StringConstraints(max_length=100), AfterValidator(_check_address)]
"""An email column of a contact, account or lead."""


def normalize_address(address: str) -> str:
    """The form addresses are compared and indexed in: trimmed and case-folded."""
    return address.strip().casefold()


def new_id() -> str:
    """A fresh record id (a GUID, as Dataverse uses)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Now, timezone-aware UTC (Table Storage keeps UTC only)."""
    return datetime.now(UTC)


class EntityRef(BaseModel):
    """A lookup to a record of a known type (``regardingobjectid`` + ``regardingobjecttypecode``)."""

    model_config = ConfigDict(frozen=True)

    type: EntityType
    id: Str36


SYSTEM_USER = EntityRef(type=EntityType.SYSTEM_USER, id="system")
"""Dynamics' SYSTEM user: who automatic tracking creates and changes records as (R-REC-12)."""

SEALED_PREFIX = "aesgcm1:"


class SealedSecret(str):
    """Ciphertext of a password or client secret; its repr never shows the value.

    Models hold only sealed secrets, so a model can be logged, returned or dumped without leaking
    plaintext; :class:`sync.auth.secrets.SecretBox` seals and opens them.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "SealedSecret('***')"


def _check_sealed(value: str) -> SealedSecret:
    if not value.startswith(SEALED_PREFIX):
        raise ValueError("secrets must be sealed before they are stored (plaintext refused)")
    return SealedSecret(value)


Sealed = Annotated[str, AfterValidator(_check_sealed)]
