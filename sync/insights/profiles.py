"""A profile at a glance: its mailboxes with their states, and the share that failed in the last hour (R-ERR-7).

The share is counted as the profile health route and the summary's failing profiles count it
(:func:`sync.operations.summary.failed_recently`), so the three never disagree. Cost: one filtered query of the
Mailboxes table (a page per 1,000 mailboxes of any profile scanned by the service) plus the profile and the
organization: a profile page reads what its mailbox list needs, nothing per mailbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sync.model import EmailServerProfile, Mailbox
from sync.operations.states import WorkloadState, workload_states
from sync.operations.summary import PROFILE_ALERT_SHARE, failed_recently
from sync.scheduling.test_enable_queue import PROFILE_FILTER as MAILBOXES_OF_PROFILE
from sync.store.store import Store


@dataclass(frozen=True)
class ProfileMailbox:
    mailbox: Mailbox
    states: dict[str, WorkloadState]
    failing_last_hour: bool


@dataclass(frozen=True)
class ProfileOverview:
    profile: EmailServerProfile
    mailboxes: list[ProfileMailbox]

    @property
    def failing_last_hour(self) -> int:
        return sum(m.failing_last_hour for m in self.mailboxes)

    @property
    def failing_share(self) -> float:
        return self.failing_last_hour / len(self.mailboxes) if self.mailboxes else 0.0

    @property
    def over_alert_threshold(self) -> bool:
        return self.failing_share > PROFILE_ALERT_SHARE


def read_overview(store: Store, profile_id: str, now: datetime) -> ProfileOverview:
    """The profile (NotFound when it does not exist) and its mailboxes, failing ones first, then by name."""
    profile = store.get_profile(profile_id)
    org = store.get_organization()
    rows = [
        ProfileMailbox(m, workload_states(m, profile, org, now), failed_recently(m, now))
        for m in store.mailboxes.query(MAILBOXES_OF_PROFILE, {"p": profile_id})
    ]
    rows.sort(key=lambda r: (not r.failing_last_hour, r.mailbox.name.casefold(), r.mailbox.id))
    return ProfileOverview(profile, rows)
