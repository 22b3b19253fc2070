"""Who owns a tracked email (R-REC-3) — pure.

1. Walk the To, then Cc recipients; each user recipient, or the owner of each queue recipient, is a
   candidate owner (only users own emails).
2. If the email correlated, a candidate that owns the correlated email wins.
3. Else if the sender is a contact, account or lead whose owner is a candidate, that owner wins.
4. Else the first candidate; with none, the owner of the mailbox that tracked it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sync.model.email import ActivityParty
from sync.model.fields import EntityRef
from sync.model.options import EntityType, ParticipationType


def choose_owner(
    *,
    recipients: Sequence[ActivityParty],
    queue_owners: Mapping[str, str | None],
    correlated_owner: EntityRef | None,
    sender_record_owner_user_id: str | None,
    mailbox_owner_user_id: str | None,
) -> EntityRef | None:
    ordered = [p for p in recipients if p.participation is ParticipationType.TO_RECIPIENT]
    ordered += [p for p in recipients if p.participation is ParticipationType.CC_RECIPIENT]
    candidates: list[str] = []
    for party in ordered:
        if party.party is None:
            continue
        if party.party.type is EntityType.SYSTEM_USER:
            user_id: str | None = party.party.id
        elif party.party.type is EntityType.QUEUE:
            user_id = queue_owners.get(party.party.id)
        else:
            continue
        if user_id and user_id not in candidates:
            candidates.append(user_id)

    def user(user_id: str) -> EntityRef:
        return EntityRef(type=EntityType.SYSTEM_USER, id=user_id)

    if correlated_owner is not None and correlated_owner.id in candidates:
        return user(correlated_owner.id)
    if sender_record_owner_user_id and sender_record_owner_user_id in candidates:
        return user(sender_record_owner_user_id)
    if candidates:
        return user(candidates[0])
    return user(mailbox_owner_user_id) if mailbox_owner_user_id else None
