"""When both sides changed an item since the last sync: the policy (R-ACT-5, R-ACT-22) — pure.

1. **Per-field direction first** (R-ACT-5): a field synced CRM → Exchange only always takes the CRM value;
   Exchange → CRM only, the Exchange value; a field synced neither way is left alone on both sides.
2. **Then last writer wins** for fields synced both ways: the side modified later (CRM ``modifiedon``,
   Exchange ``LastModifiedTime``) gives its value.
3. **CRM wins ties**.

When only one side changed, its values flow to the other side (within each field's direction). The
outcome names the winner of every differing field, so the mapping can record what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    BOTH = "both"
    TO_EXCHANGE = "to_exchange"
    TO_CRM = "to_crm"
    NONE = "none"


@dataclass(frozen=True)
class Side:
    fields: Mapping[str, object]
    modified_on: datetime
    changed: bool  # since the last sync: CRM version above the synced one / a new Exchange change key


@dataclass(frozen=True)
class Resolution:
    to_crm: dict[str, object] = field(default_factory=dict)  # fields to write on the CRM record
    to_exchange: dict[str, object] = field(default_factory=dict)  # fields to write on the Exchange item
    winners: dict[str, str] = field(default_factory=dict)  # field -> "crm" | "exchange"
    conflict: bool = False  # both sides had changed

    @property
    def summary(self) -> str:
        """One line for the mapping's record of the decision."""
        if not self.winners:
            return "no differences"
        kind = "conflict" if self.conflict else "one-sided change"
        return f"{kind}: " + ", ".join(f"{name}<-{side}" for name, side in sorted(self.winners.items()))


def resolve(crm: Side, exchange: Side, directions: Mapping[str, Direction]) -> Resolution:
    """What to write where, for the fields the two sides do not agree on."""
    result = Resolution(conflict=crm.changed and exchange.changed)
    crm_later = crm.modified_on >= exchange.modified_on  # CRM wins ties
    for name in sorted(set(crm.fields) | set(exchange.fields)):
        ours, theirs = crm.fields.get(name), exchange.fields.get(name)
        if ours == theirs:
            continue
        winner = _winner(directions.get(name, Direction.BOTH), crm.changed, exchange.changed, crm_later)
        if winner == "crm":
            result.to_exchange[name] = ours
        elif winner == "exchange":
            result.to_crm[name] = theirs
        if winner:
            result.winners[name] = winner
    return result


def _winner(direction: Direction, crm_changed: bool, exchange_changed: bool, crm_later: bool) -> str:
    if direction is Direction.NONE or not (crm_changed or exchange_changed):
        return ""
    if direction is Direction.TO_EXCHANGE:
        return "crm" if crm_changed or exchange_changed else ""
    if direction is Direction.TO_CRM:
        return "exchange"
    if crm_changed and exchange_changed:
        return "crm" if crm_later else "exchange"
    return "crm" if crm_changed else "exchange"
