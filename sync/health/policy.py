"""What a mailbox-level failure does to the mailbox (R-ERR-2/3, N-8/N-9) — pure.

- transient (network, timeout, dropped connection): retry in ``retry_minutes``; after ``limit``
  consecutive failures the workload is treated as permanently failing and disabled;
- authentication or permanent (wrong password, TLS failure, unknown host): disabled at once;
- success clears the counters.
A disabled workload stays disabled until an administrator fixes the cause and runs Test & Enable (R-ERR-10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.model.mailbox import Mailbox


class ErrorClass(StrEnum):
    TRANSIENT = "transient"
    AUTHENTICATION = "authentication"
    PERMANENT = "permanent"


def classify_error(error: MailServerError) -> ErrorClass:
    if isinstance(error, MailAuthenticationError):
        return ErrorClass.AUTHENTICATION
    if isinstance(error, PermanentMailError):
        return ErrorClass.PERMANENT
    if isinstance(error, TransientMailError):
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT  # an unknown mail-server failure: do not hammer the server


@dataclass(frozen=True)
class FailureOutcome:
    disabled: bool
    retry_at: datetime | None
    error_class: ErrorClass
    attempt: int


def apply_failure(
    mailbox: Mailbox, error: MailServerError, now: datetime, *, limit: int, retry_minutes: int
) -> FailureOutcome:
    """Record an incoming failure on ``mailbox`` (mutates it) and say what follows."""
    error_class = classify_error(error)
    mailbox.transient_failure_count = mailbox.transient_failure_count + 1 if error_class is ErrorClass.TRANSIENT else 0
    mailbox.last_sync_error = str(error)[:2048]
    mailbox.last_sync_error_code = None
    mailbox.last_sync_error_count += 1
    mailbox.last_sync_error_occurred_on = now
    if error_class is ErrorClass.TRANSIENT and mailbox.transient_failure_count < limit:
        retry_at = now + timedelta(minutes=retry_minutes)
        mailbox.receiving_postponed_until = retry_at
        return FailureOutcome(False, retry_at, error_class, mailbox.transient_failure_count)
    mailbox.enabled_for_incoming = False
    return FailureOutcome(True, None, error_class, mailbox.transient_failure_count or 1)


def apply_success(mailbox: Mailbox, now: datetime) -> None:
    mailbox.transient_failure_count = 0
    mailbox.last_sync_error_count = 0
    mailbox.receiving_postponed_until = None
    mailbox.last_successful_sync_completed_on = now
