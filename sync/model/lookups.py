"""Value objects that index lookups return: who has an address, what a tracked email is about."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sync.model.fields import EntityRef
from sync.model.options import EmailDirection, EntityType


@dataclass(frozen=True)
class AddressMatch:
    """A record that has the looked-up address in one of its email columns."""

    type: EntityType
    id: str
    column: str
    column_number: int  # 1-based (``addressusedemailcolumnnumber``)
    active: bool
    disabled_user: bool
    owner_user_id: str | None


@dataclass(frozen=True)
class EmailSummary:
    """What correlation needs of a tracked email."""

    email_id: str
    regarding: EntityRef | None = None
    owner: EntityRef | None = None
    subject_key: str = ""
    direction: EmailDirection = EmailDirection.INCOMING

    def to_row(self) -> dict[str, object]:
        row: dict[str, object] = {"email_id": self.email_id, "subject_key": self.subject_key,
                                  "direction": int(self.direction)}  # fmt: skip
        if self.regarding is not None:
            row["regarding"] = self.regarding.model_dump_json()
        if self.owner is not None:
            row["owner"] = self.owner.model_dump_json()
        return row

    @classmethod
    def from_row(cls, row: dict[str, object]) -> EmailSummary:
        regarding, owner = row.get("regarding"), row.get("owner")
        return cls(
            email_id=str(row["email_id"]),
            regarding=EntityRef.model_validate_json(str(regarding)) if regarding else None,
            owner=EntityRef.model_validate_json(str(owner)) if owner else None,
            subject_key=str(row.get("subject_key") or ""),
            direction=EmailDirection(int(str(row.get("direction") or 0))),
        )


@dataclass(frozen=True)
class SmartCandidate:
    """A tracked email found by subject signature, with what smart matching compares."""

    summary: EmailSummary
    address_hashes: Sequence[str]
    created_on: datetime
