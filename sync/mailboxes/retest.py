"""Automatic re-tests of a mailbox whose Test & Enable failed (R-TE-11) — pure, no I/O.

Dynamics keeps ``testemailconfigurationretrycount`` and ``postponetestemailconfigurationuntil`` on the mailbox
and re-tests failed mailboxes by itself; its cadence is not documented. Here a failed test (whoever ran it) is
scheduled again after a growing delay, so a mail server that was down or a password fixed on the server side
recovers without an administrator, while a mailbox that keeps failing stops being tried after
``len(RETEST_DELAYS)`` re-tests (its failure alerts stay open; a manual Test & Enable starts the count again).
A success resets the count and clears the schedule.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sync.model.mailbox import Mailbox

RETEST_DELAYS = (  # after the 1st, 2nd... consecutive failure: about a day and a half of tries in all
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
    timedelta(hours=12),
    timedelta(hours=24),
)


def record_outcome(mailbox: Mailbox, *, succeeded: bool, now: datetime, manual: bool) -> None:
    """Update the retry count and the next scheduled test after a run (``manual``: an administrator ran it)."""
    if succeeded:
        mailbox.test_email_configuration_retry_count = 0
        mailbox.test_email_configuration_scheduled = False
        mailbox.postpone_test_email_configuration_until = None
        return
    failures = 1 if manual else mailbox.test_email_configuration_retry_count + 1
    mailbox.test_email_configuration_retry_count = failures
    if failures <= len(RETEST_DELAYS):
        mailbox.test_email_configuration_scheduled = True
        mailbox.postpone_test_email_configuration_until = now + RETEST_DELAYS[failures - 1]
    else:
        mailbox.test_email_configuration_scheduled = False
        mailbox.postpone_test_email_configuration_until = None
