"""Party resolution (spec §2.8): addresses -> CRM records, given the address index matches — pure.

The sender resolves to ONE record (R-RES-2..4): disabled users never count (R-RES-9); inactive records
are dropped when the organization says so; more than 100 matches leave it unresolved; a record owned by
the user whose mailbox is tracking wins over one it does not own (R-RES-3); then active before inactive,
then type order user, contact, account, lead, queue. Recipients list EVERY match (R-RES-5), unless the
organization asks to leave multi-matches unresolved. Unmatched addresses stay as unresolved parties
with their address and display name (R-RES-6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync.model.email import ActivityParty
from sync.model.fields import EntityRef, normalize_address
from sync.model.lookups import AddressMatch
from sync.model.options import EMAIL_ENABLED_TYPES, ParticipationType
from sync.model.organization import OrganizationSettings

MAX_SENDER_MATCHES = 100  # N-25

_TYPE_RANK = {t: n for n, t in enumerate(EMAIL_ENABLED_TYPES)}


@dataclass(frozen=True)
class SenderResolution:
    party: ActivityParty
    duplicate_unresolved: bool = False  # ``isduplicatesenderunresolved``


def _candidates(matches: Sequence[AddressMatch], org: OrganizationSettings) -> list[AddressMatch]:
    kept = [m for m in matches if not m.disabled_user]
    if org.resolve_for_inactive_entities:
        kept = [m for m in kept if m.active]
    return kept


def _unresolved(participation: ParticipationType, address: str, name: str) -> ActivityParty:
    return ActivityParty(
        participation=participation, address_used=address[:320], unresolved_party_name=(name or None) and name[:200]
    )


def _party(participation: ParticipationType, match: AddressMatch, address: str) -> ActivityParty:
    return ActivityParty(
        participation=participation,
        party=EntityRef(type=match.type, id=match.id),
        address_used=address[:320],
        address_used_column_number=match.column_number,
    )


def resolve_sender(
    address: str,
    name: str,
    matches: Sequence[AddressMatch],
    org: OrganizationSettings,
    tracking_owner_user_id: str | None,
) -> SenderResolution:
    candidates = _candidates(matches, org)
    if not candidates or len(candidates) > MAX_SENDER_MATCHES:
        return SenderResolution(_unresolved(ParticipationType.SENDER, address, name))
    if len(candidates) > 1 and org.unresolve_sender_in_case_of_multiple_match:
        return SenderResolution(_unresolved(ParticipationType.SENDER, address, name), duplicate_unresolved=True)
    best = min(
        candidates,
        key=lambda m: (
            0 if tracking_owner_user_id and m.owner_user_id == tracking_owner_user_id else 1,
            0 if m.active else 1,
            _TYPE_RANK.get(m.type, len(_TYPE_RANK)),
            m.column_number,
        ),
    )
    return SenderResolution(_party(ParticipationType.SENDER, best, address))


def resolve_recipients(
    participation: ParticipationType,
    addresses: Sequence[tuple[str, str]],
    matches_by_address: Mapping[str, Sequence[AddressMatch]],
    org: OrganizationSettings,
) -> list[ActivityParty]:
    """One party per matching record of each (name, address); unresolved parties for the rest."""
    parties: list[ActivityParty] = []
    seen: set[tuple[str, str | None]] = set()
    for name, address in addresses:
        candidates = _candidates(matches_by_address.get(normalize_address(address), ()), org)
        if len(candidates) > 1 and org.unresolve_email_address_if_multiple_match:
            candidates = []
        if len(candidates) > MAX_SENDER_MATCHES:
            candidates = []
        if not candidates:
            key: tuple[str, str | None] = (normalize_address(address), None)
            if key not in seen:
                seen.add(key)
                parties.append(_unresolved(participation, address, name))
            continue
        for match in sorted(candidates, key=lambda m: (_TYPE_RANK.get(m.type, 99), m.column_number)):
            key = (normalize_address(address), match.id)
            if key not in seen:
                seen.add(key)
                parties.append(_party(participation, match, address))
    return parties
