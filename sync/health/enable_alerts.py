"""Alert texts of Test & Enable (R-TE-4, R-TE-12, R-ERR-13/14): what the administrator reads on the alerts wall.

A failure is written twice: on the mailbox (its owner must act) and on the profile (its owner is notified,
R-ERR-5). Each failure code has its own alert code so a repeat bumps the open alert instead of adding one.
"""

from __future__ import annotations

from sync.health.alerts import CODE_ACT_OTHER_ORGANIZATION, AlertText
from sync.health.server_text import one_server_line
from sync.model.options import AlertLevel

# Codes of their own (R-ERR-6): the outgoing codes are 8005_0101..; sharing one would let a test's alert
# overwrite a current outgoing alert on the same mailbox, and a successful test dismiss it.
CODE_TEST_SUCCEEDED = 8005_0200
CODE_TEST_INCOMING_FAILED = 8005_0201
CODE_TEST_OUTGOING_FAILED = 8005_0202
CODE_TEST_ACT_FAILED = 8005_0203
CODE_TEST_PRECONDITION_FAILED = 8005_0204

FAILURE_CODES = (
    CODE_TEST_INCOMING_FAILED,
    CODE_TEST_OUTGOING_FAILED,
    CODE_TEST_ACT_FAILED,
    CODE_TEST_PRECONDITION_FAILED,
    CODE_ACT_OTHER_ORGANIZATION,  # R-TE-7: a test that claims the mailbox closes it
)

_WORKLOAD_CODES = {
    "incoming": CODE_TEST_INCOMING_FAILED,
    "outgoing": CODE_TEST_OUTGOING_FAILED,
    "act": CODE_TEST_ACT_FAILED,
    "mailbox": CODE_TEST_PRECONDITION_FAILED,
}
_WHAT = {
    "incoming": "Email cannot be received",
    "outgoing": "Email cannot be sent",
    "act": "Appointments, contacts, and tasks can't be synchronized",
    "mailbox": "The mailbox cannot be tested and enabled",
}
_DISABLED_FOR = {
    "incoming": "receiving email",
    "outgoing": "sending email",
    "act": "synchronizing appointments, contacts, and tasks",
    "mailbox": "email processing",
}


def success_text(mailbox_name: str, enabled: list[str]) -> AlertText:
    what = ", ".join(enabled) or "nothing (no workload uses server-side synchronization)"
    return AlertText(
        AlertLevel.INFORMATION,
        CODE_TEST_SUCCEEDED,
        "TestAndEnableSucceeded",
        f"The mailbox {mailbox_name} was tested successfully and has been enabled for: {what}.",
        "Test & Enable completed",
    )


def failure_text(mailbox_name: str, profile_name: str | None, workload: str, code: str, reason: str) -> AlertText:
    """Permanent-class wording (R-ERR-13): the workload is disabled until the cause is fixed and re-tested."""
    profile = f" and the owner of the email server profile {profile_name} has been notified" if profile_name else ""
    reason = one_server_line(reason)
    text = (
        f"{_WHAT[workload]} for the mailbox {mailbox_name} because {reason.rstrip('.')}. The mailbox {mailbox_name} "
        f"has been disabled for {_DISABLED_FOR[workload]}{profile}. Fix the problem, then run Test & Enable for the "
        f"mailbox. Email Server Error Code: {code}"
    )
    return AlertText(AlertLevel.ERROR, _WORKLOAD_CODES[workload], code, text, f"{code}: {reason}")
