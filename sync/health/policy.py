"""What a mailbox-level failure does to the mailbox (R-ERR-2/3, R-OUT-9, N-8/N-9) — pure.

- transient (network, timeout, dropped connection): retry in ``retry_minutes``; after ``limit``
  consecutive failures the workload is treated as permanently failing and disabled;
- authentication or permanent (wrong password, TLS failure, unknown host): disabled at once;
- success clears the counters.
Incoming, outgoing and ACT each keep their own count (:func:`transient_retry`), so one workload's failures
never disable another. A disabled workload stays disabled until an administrator fixes the cause and runs
Test & Enable (R-ERR-10).
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


@dataclass(frozen=True)
class TransientVerdict:
    """The workload's transient failures in a row, and when to try again (None: the limit is reached, disable it)."""

    count: int
    retry_at: datetime | None


def transient_retry(count_before: int, now: datetime, *, limit: int, retry_minutes: int) -> TransientVerdict:
    """R-ERR-3: one more transient failure; after ``limit`` in a row it is treated as permanent."""
    count = count_before + 1
    if count >= limit:
        return TransientVerdict(count, None)
    return TransientVerdict(count, now + timedelta(minutes=retry_minutes))


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
    if error_class is ErrorClass.TRANSIENT:
        verdict = transient_retry(mailbox.transient_failure_count - 1, now, limit=limit, retry_minutes=retry_minutes)
        if verdict.retry_at is not None:
            mailbox.receiving_postponed_until = verdict.retry_at
            return FailureOutcome(False, verdict.retry_at, error_class, mailbox.transient_failure_count)
    mailbox.enabled_for_incoming = False
    return FailureOutcome(True, None, error_class, mailbox.transient_failure_count or 1)


def apply_success(mailbox: Mailbox, now: datetime) -> None:
    mailbox.transient_failure_count = 0
    mailbox.last_sync_error_count = 0
    mailbox.receiving_postponed_until = None
    mailbox.last_successful_sync_completed_on = now
