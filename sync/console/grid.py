"""The Mailboxes grid: one page of the organization's mailboxes with their states, filtered and searched.

Cost per page (Table requests), whatever the number of mailboxes: 1 organization read, 1 query of the profiles
(the filter lists them too), 1 page of the Mailboxes table (filtered by the storage where it can be: profile,
errors only, an address or name prefix), and 1 query per 14 mailboxes for their open alerts (15 is the most
comparisons a Table filter may hold). The workload states are computed per row (pure,
``sync.operations.states``), so a page filtered by state may hold fewer rows than asked, or none, while
``continuation`` says there is more: the page says so rather than scanning on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sync.health.mailbox_state import mailbox_state
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.activities import Alert
from sync.model.options import EmailAddressApproval, EntityType
from sync.operations.states import WORKLOADS, WorkloadState
from sync.operations.states import workload_states as states_of
from sync.store.due_index import parse_row_key
from sync.store.store import Store

PAGE_SIZE = 50
MAX_FILTER_COMPARISONS = 15  # Azure Table storage's limit on comparisons in one filter
PREFIX_END = "\uffff"  # the highest character: "starts with x" is "x <= value < x + PREFIX_END"


@dataclass(frozen=True)
class GridFilter:
    """What the administrator asked for; every field optional."""

    state: str = ""  # a WorkloadState: any workload in that state
    profile_id: str = ""
    errors_only: bool = False
    search: str = ""  # the start of an address or of the owner's name

    def storage_filter(self) -> tuple[str | None, dict[str, object]]:
        """The part the storage can filter itself; states are computed, so they are filtered after reading."""
        clauses: list[str] = []
        params: dict[str, object] = {}
        if self.profile_id:
            clauses.append("email_server_profile_id eq @profile")
            params["profile"] = self.profile_id
        if self.errors_only:
            clauses.append("last_sync_error_count gt 0")
        text = self.search.strip()
        if text:
            by_address = "( email_address ge @lower and email_address lt @upper )"
            clauses.append(f"( {by_address} or ( name ge @name and name lt @name_upper ) )")
            params.update(lower=text.lower(), upper=text.lower() + PREFIX_END, name=text, name_upper=text + PREFIX_END)
        return (" and ".join(clauses) or None), params


@dataclass(frozen=True)
class GridRow:
    mailbox_id: str
    name: str
    owner_type: str  # "user", "queue" or "forward mailbox"
    address: str
    profile_name: str
    states: dict[str, WorkloadState]
    health: str
    approval: str
    last_sync: datetime | None
    next_due: datetime | None
    error: str | None
    open_alerts: int


@dataclass
class GridPage:
    rows: list[GridRow]
    continuation: str | None
    read: int  # mailboxes read for this page (rows may be fewer when filtered by state)
    profiles: list[EmailServerProfile] = field(default_factory=list)  # every profile, by name: the filter's list


def owner_type(mailbox: Mailbox) -> str:
    if mailbox.is_forward_mailbox or mailbox.owner is None:
        return "forward mailbox"
    return "queue" if mailbox.owner.type is EntityType.QUEUE else "user"


def approval_word(approval: EmailAddressApproval) -> str:
    return approval.name.replace("_", " ").capitalize()


def build_row(
    mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime, open_alerts: int
) -> GridRow:
    """One row — pure."""
    states = states_of(mailbox, profile, org, now)
    return GridRow(
        mailbox_id=mailbox.id, name=mailbox.name, owner_type=owner_type(mailbox),
        address=str(mailbox.email_address or ""), profile_name=profile.name if profile else "",
        states=states, health=str(mailbox_state(states)), approval=approval_word(mailbox.approval),
        last_sync=mailbox.last_sync_started_on,
        next_due=parse_row_key(mailbox.due_row_key).due_on if mailbox.due_row_key else None,
        error=mailbox.last_sync_error if mailbox.last_sync_error_count else None, open_alerts=open_alerts,
    )  # fmt: skip


def matches_state(row: GridRow, state: str) -> bool:
    return not state or state == row.health or any(row.states[w] == state for w in WORKLOADS)


def open_alert_counts(store: Store, mailbox_ids: Iterable[str]) -> dict[str, int]:
    """Open (not dismissed) alerts per mailbox, one query per :data:`MAX_FILTER_COMPARISONS` mailboxes.

    Parameters are spaced from parentheses: the SDK finds ``@name`` by splitting the filter on spaces."""
    ids = list(dict.fromkeys(mailbox_ids))
    counts = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), MAX_FILTER_COMPARISONS - 1):  # one comparison is `dismissed eq false`
        chunk = ids[start : start + MAX_FILTER_COMPARISONS - 1]
        params = {f"p{i}": mailbox_id for i, mailbox_id in enumerate(chunk)}
        either = " or ".join(f"PartitionKey eq @p{i}" for i in range(len(chunk)))
        alert: Alert
        for alert in store.alerts.query(f"( {either} ) and dismissed eq false", params):
            if alert.mailbox_id in counts:
                counts[alert.mailbox_id] += 1
            elif alert.regarding.id in counts:
                counts[alert.regarding.id] += 1
    return counts


def grid_page(
    store: Store, wanted: GridFilter, now: datetime, continuation: str | None, page_size: int = PAGE_SIZE
) -> GridPage:
    """One page of the grid (see the module's docstring for its cost)."""
    org = store.get_organization()
    profiles = sorted(store.profiles.query(), key=lambda p: p.name.lower())
    by_id = {p.id: p for p in profiles}
    query, params = wanted.storage_filter()
    page = store.mailboxes.query_page(query, params, page_size=page_size, continuation=continuation)
    alerts = open_alert_counts(store, (m.id for m in page.items))
    rows = [build_row(m, by_id.get(m.email_server_profile_id or ""), org, now, alerts.get(m.id, 0)) for m in page.items]
    kept = [r for r in rows if matches_state(r, wanted.state)]
    return GridPage(kept, page.continuation, len(page.items), profiles)
