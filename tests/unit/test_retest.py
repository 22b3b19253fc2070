"""R-TE-11: the automatic re-test schedule after failed Test & Enable runs (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.mailboxes.retest import RETEST_DELAYS, record_outcome
from sync.model import Mailbox
from sync.model.fields import EntityRef
from sync.model.options import EntityType

OWNER = EntityRef(type=EntityType.SYSTEM_USER, id="u1")
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_r_te_11_re_tests_back_off_then_stop_after_the_last_delay() -> None:
    mailbox = Mailbox(name="m", owner=OWNER)
    record_outcome(mailbox, succeeded=False, now=NOW, manual=True)
    waits = [mailbox.postpone_test_email_configuration_until]
    for _ in RETEST_DELAYS[1:]:
        record_outcome(mailbox, succeeded=False, now=NOW, manual=False)
        waits.append(mailbox.postpone_test_email_configuration_until)
    assert waits == [NOW + delay for delay in RETEST_DELAYS]
    record_outcome(mailbox, succeeded=False, now=NOW, manual=False)
    assert not mailbox.test_email_configuration_scheduled and mailbox.postpone_test_email_configuration_until is None


def test_r_te_11_a_manual_test_starts_the_count_again_and_a_success_clears_it() -> None:
    mailbox = Mailbox(name="m", owner=OWNER, test_email_configuration_retry_count=9)
    record_outcome(mailbox, succeeded=False, now=NOW, manual=True)
    assert mailbox.test_email_configuration_retry_count == 1 and mailbox.test_email_configuration_scheduled
    record_outcome(mailbox, succeeded=True, now=NOW, manual=False)
    assert (mailbox.test_email_configuration_retry_count, mailbox.test_email_configuration_scheduled) == (0, False)
