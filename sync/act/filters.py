"""Which CRM records belong in a user's Exchange mailbox (R-ACT-1, 3, 23) — pure.

A user's filter per record type selects records; a record the filter stops selecting (the user left the
attendees, the owner changed, the filter changed) is a logical delete for that user's mailbox (R-ACT-4).
Only records that could match are ever looked at for a user: :func:`interested_users` names them, and the
CRM side marks each of their mailboxes when a record changes.
"""

from __future__ import annotations

from sync.model import Contact
from sync.model.act import DEFAULT_FILTERS, Appointment, FilterRule, Task
from sync.model.options import EntityType, ParticipationType

ActRecord = Appointment | Contact | Task
PARTY_ROLES = (ParticipationType.ORGANIZER, ParticipationType.REQUIRED_ATTENDEE)  # R-ACT-23


def user_parties(appointment: Appointment, roles: tuple[ParticipationType, ...] = PARTY_ROLES) -> set[str]:
    """The users among the appointment's parties with one of ``roles``."""
    return {
        p.party.id
        for p in appointment.parties
        if p.participation in roles and p.party is not None and p.party.type is EntityType.SYSTEM_USER
    }


def matches(rule: FilterRule, record: ActRecord, user_id: str) -> bool:
    owned = record.owner_user_id == user_id
    party = isinstance(record, Appointment) and user_id in user_parties(record)
    if rule is FilterRule.OWNED:
        return owned
    if rule is FilterRule.PARTY:
        return party
    if rule is FilterRule.PARTY_OR_OWNED:
        return owned or party
    return False


def rule_for(object_type: EntityType, configured: dict[EntityType, FilterRule] | None = None) -> FilterRule:
    """The user's rule for a type: what they configured, else the default template."""
    return (configured or {}).get(object_type, DEFAULT_FILTERS.get(object_type, FilterRule.NOTHING))


def interested_users(record: ActRecord) -> set[str]:
    """Users whose filters could select ``record``: its owner and, for an appointment, every user party."""
    users = {record.owner_user_id} if record.owner_user_id else set()
    if isinstance(record, Appointment):
        users |= user_parties(record, (*PARTY_ROLES, ParticipationType.OPTIONAL_ATTENDEE))
    return users
