"""Corrections an administrator or user makes to a tracked email: its regarding record (R-FLT-6) and the record
an unresolved sender or recipient stands for (R-RES-7).

Resolving an address sets the record on every unresolved party of the email with that address; when the
organization's ``resolve_similar_unresolved_email_address`` is on (the default, as Dynamics' UI), every other
email carrying the address unresolved gets it too, found through the unresolved-address index (one partition
read, ``sync/store/unresolved_index.py``). Each change records who made it (``modified_by``, R-REC-12).

A regarding set by hand stays: synchronization re-applies a tracking rule's record only when the message is
listed again in the rule's folder (moved there), never on every cycle (Dynamics overwrites it on the next sync).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sync.errors import ValidationFailed
from sync.model import Email
from sync.model.fields import EntityRef, normalize_address
from sync.model.options import ParticipationType
from sync.store.store import Store


@dataclass(frozen=True)
class Resolution:
    email: Email
    also_resolved: list[str] = field(default_factory=list)  # other emails that had the address unresolved


def _resolve_parties(email: Email, address: str, record: EntityRef, by: EntityRef | None) -> bool:
    """Set ``record`` on the email's unresolved parties with ``address``; whether any was."""
    wanted, changed = normalize_address(address), False
    for party in email.parties:
        if party.party is None and party.address_used and normalize_address(party.address_used) == wanted:
            party.party, party.display_name = record, party.display_name or party.unresolved_party_name
            changed = True
            if party.participation is ParticipationType.SENDER:
                email.is_duplicate_sender_unresolved = False
    if changed:
        email.modified_by = by
    return changed


class EmailCorrections:
    def __init__(self, store: Store) -> None:
        self.store = store

    def set_regarding(self, email_id: str, regarding: EntityRef | None, by: EntityRef | None) -> Email:
        """The record the email is about (None: about no record)."""
        self._check_exists(regarding, "regarding")

        def change(stored: Email) -> None:
            stored.regarding, stored.modified_by = regarding, by

        return self.store.emails.modify(email_id, "email", change)

    def resolve(self, email_id: str, address: str, record: EntityRef, by: EntityRef | None) -> Resolution:
        """The unresolved ``address`` of the email is ``record``; similar emails follow when the org says so."""
        self._check_exists(record, "record")
        email = self.store.emails.get(email_id, "email")
        if not any(
            p.party is None and p.address_used and normalize_address(p.address_used) == normalize_address(address)
            for p in email.parties
        ):
            raise ValidationFailed("no unresolved sender or recipient of the email has this address", field="address")

        def resolve_in(stored: Email) -> None:
            _resolve_parties(stored, address, record, by)

        email = self.store.emails.modify(email_id, "email", resolve_in)
        self.store.unresolved_index.remove(address, email_id)
        others: list[str] = []
        if self.store.get_organization().resolve_similar_unresolved_email_address:
            for other_id in self.store.unresolved_index.emails(address):
                other = self.store.emails.find(other_id, "email") if other_id != email_id else None
                if other is not None and _resolve_parties(other, address, record, by):  # read first: skip the done
                    self.store.emails.modify(other_id, "email", resolve_in)
                    others.append(other_id)
                self.store.unresolved_index.remove(address, other_id)
        return Resolution(email, others)

    def _check_exists(self, ref: EntityRef | None, name: str) -> None:
        if ref is not None and self.store.find_record(ref.type, ref.id) is None:
            raise ValidationFailed("no record of this table has this id", field=f"{name}.id")
