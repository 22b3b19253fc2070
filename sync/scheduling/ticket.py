"""Claim tickets: what a due-index row remembers of its mailbox, so a claim need not read the mailbox row.

Whoever releases a mailbox (the incoming worker; the ACT worker, for the ACT schedule) knows the row it
just wrote: its ETag, that it holds no lease and that it was eligible apart from its postpone times,
against which organization and profile. It writes that, the *ticket*, into the mailbox's next due-index
row. When the row comes due, the scheduler takes the lease with one conditional merge on the mailbox row
(``If-Match`` the ticket's ETag) instead of a read and a compare-and-swap: if the merge succeeds, the
mailbox is byte for byte the one the ticket describes, so it is idle and (the organization and profile
being unchanged too, checked by their ETags) still eligible. Anything else (an administrator's edit, a
lease still held, a changed profile) makes the ETag differ, and the scheduler falls back to reading the
mailbox. A ticket is an optimisation; it never grants a lease the read path would refuse. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.scheduling.claim_rules import INCOMING, ClaimRules

PREFIX = "t_"  # the due-index row's properties that hold the ticket


@dataclass(frozen=True)
class ClaimTicket:
    mailbox_etag: str
    version: int  # the mailbox's version_number at that ETag (a claim writes version + 1)
    profile_id: str
    profile_etag: str | None
    org_etag: str | None  # None: the organization still has its defaults (no row)
    not_before: datetime | None  # the latest postpone time at that ETag: not claimable before it

    def holds(self, org: OrganizationSettings, profile: EmailServerProfile | None, now: datetime) -> bool:
        """Whether the eligibility the ticket vouches for still stands against these rows at ``now``."""
        return (
            profile is not None
            and profile.id == self.profile_id
            and profile.etag == self.profile_etag
            and org.etag == self.org_etag
            and (self.not_before is None or self.not_before <= now)
        )

    def properties(self) -> dict[str, Any]:
        """The ticket as properties of a due-index row (None values are not stored)."""
        values: dict[str, Any] = {
            "etag": self.mailbox_etag,
            "version": self.version,
            "profile": self.profile_id,
            "profile_etag": self.profile_etag,
            "org_etag": self.org_etag,
            "not_before": self.not_before,
        }
        return {PREFIX + name: value for name, value in values.items() if value is not None}


def issue(
    mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, rules: ClaimRules = INCOMING
) -> ClaimTicket | None:
    """The ticket for ``mailbox`` as just written, or None when a claim must read it (held, ineligible...).

    ``rules``: the workload whose due row gets the ticket (incoming, or ACT with its own lease fields)."""
    if mailbox.etag is None or profile is None or mailbox.email_server_profile_id != profile.id:
        return None
    if not rules.free_and_eligible_but_postponed(mailbox, profile, org):
        return None
    return ClaimTicket(
        mailbox_etag=mailbox.etag,
        version=mailbox.version_number,
        profile_id=profile.id,
        profile_etag=profile.etag,
        org_etag=org.etag,
        not_before=rules.postponed_until(mailbox),
    )


def read(row: Mapping[str, Any]) -> ClaimTicket | None:
    """The ticket stored in a due-index row, if it has a complete one."""
    etag, version, profile_id = (row.get(PREFIX + n) for n in ("etag", "version", "profile"))
    if not isinstance(etag, str) or not isinstance(profile_id, str) or not isinstance(version, int):
        return None
    not_before = row.get(PREFIX + "not_before")
    return ClaimTicket(
        mailbox_etag=etag,
        version=version,
        profile_id=profile_id,
        profile_etag=_text(row.get(PREFIX + "profile_etag")),
        org_etag=_text(row.get(PREFIX + "org_etag")),
        not_before=not_before if isinstance(not_before, datetime) else None,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
