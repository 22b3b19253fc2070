"""One word per workload of a mailbox (incoming, outgoing, ACT) for the admin grid and the summary — pure.

The words are plain strings (not option-set numbers): they are this service's own, not Dynamics columns.

- ``not_used``: the mailbox does not use server-side synchronization for the workload;
- ``inactive``: the mailbox is deactivated, or cannot run for a reason other than the workload's own switch
  (no profile, address not approved...);
- ``not_tested``: Test & Enable never ran for the workload;
- ``failing``: its last Test & Enable failed, or its last attempts failed (incoming: an error since the last
  good cycle, even one that disabled it; outgoing: sending is postponed after an error): an administrator has
  something to fix, as Dynamics' "Failure" status says; ACT keeps no cycle error on the mailbox, so only a failed
  test makes it ``failing``;
- ``disabled``: the workload was switched off with no error pending;
- ``healthy``: none of the above.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sync.errors import ValidationFailed
from sync.mailboxes import eligibility
from sync.model import EmailServerProfile, Mailbox, OrganizationSettings
from sync.model.options import ActDeliveryMethod, IncomingDeliveryMethod, OutgoingDeliveryMethod, TestStatus

WORKLOADS = ("incoming", "outgoing", "act")


class WorkloadState(StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"
    DISABLED = "disabled"
    NOT_TESTED = "not_tested"
    INACTIVE = "inactive"
    NOT_USED = "not_used"


S = TypeVar("S", bound=StrEnum)

OWN_SWITCHES = frozenset({eligibility.Reason.NOT_ENABLED, eligibility.Reason.POSTPONED, eligibility.Reason.NOT_TESTED})


def parse_state(text: str, field: str, states: type[S] = WorkloadState) -> S:  # type: ignore[assignment]
    """A state name of ``states`` in any letter case; anything else names the allowed ones."""
    try:
        return states(text.strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in states)
        raise ValidationFailed(f"unknown state {text!r}; one of: {allowed}", field=field) from None


def _state(
    verdict: eligibility.Eligibility, *, active: bool, status: TestStatus, enabled: bool, failing: bool
) -> WorkloadState:
    if not active:
        return WorkloadState.INACTIVE
    if status is TestStatus.NOT_RUN:
        return WorkloadState.NOT_TESTED
    if status is TestStatus.FAILURE:
        return WorkloadState.FAILING
    if not enabled:
        return WorkloadState.FAILING if failing else WorkloadState.DISABLED
    if any(reason not in OWN_SWITCHES for reason in verdict.reasons):
        return WorkloadState.INACTIVE
    return WorkloadState.FAILING if failing else WorkloadState.HEALTHY


def workload_states(
    mailbox: Mailbox, profile: EmailServerProfile | None, org: OrganizationSettings, now: datetime
) -> dict[str, WorkloadState]:
    """The state of each workload of ``mailbox``."""
    states: dict[str, WorkloadState] = {}
    if mailbox.is_forward_mailbox or mailbox.incoming_method is IncomingDeliveryMethod.SERVER_SIDE_SYNC:
        states["incoming"] = _state(
            eligibility.incoming(mailbox, profile, org, now), active=mailbox.is_active,
            status=mailbox.incoming_status, enabled=mailbox.enabled_for_incoming,
            failing=mailbox.last_sync_error_count > 0,
        )  # fmt: skip
    else:
        states["incoming"] = WorkloadState.NOT_USED
    if not mailbox.is_forward_mailbox and mailbox.outgoing_method is OutgoingDeliveryMethod.SERVER_SIDE_SYNC:
        postponed = mailbox.postpone_sending_until is not None and mailbox.postpone_sending_until > now
        states["outgoing"] = _state(
            eligibility.outgoing(mailbox, profile, org, now), active=mailbox.is_active,
            status=mailbox.outgoing_status, enabled=mailbox.enabled_for_outgoing, failing=postponed,
        )  # fmt: skip
    else:
        states["outgoing"] = WorkloadState.NOT_USED
    if mailbox.is_user_mailbox and mailbox.act_method is ActDeliveryMethod.SERVER_SIDE_SYNC:
        states["act"] = _state(
            eligibility.act(mailbox, profile, org, now), active=mailbox.is_active, status=mailbox.act_status,
            enabled=mailbox.enabled_for_act, failing=False,
        )  # fmt: skip
    else:
        states["act"] = WorkloadState.NOT_USED
    return states
