"""R-TE-7's decision on a mailbox's claim: write ours, keep it, or refuse another organization's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync.act.org_stamp import REFRESH_EVERY, StampAction, decide
from sync.act.port import OrgStamp

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
OURS, THEIRS = "ours", "theirs"


@pytest.mark.parametrize(
    ("stamp", "take_over", "action"),
    [
        (None, False, StampAction.WRITE),
        (OrgStamp(OURS, NOW - timedelta(minutes=59)), False, StampAction.KEEP),
        (OrgStamp(OURS, NOW - REFRESH_EVERY), False, StampAction.WRITE),
        (OrgStamp(OURS, None), False, StampAction.WRITE),
        (OrgStamp(THEIRS, NOW), False, StampAction.REFUSE),
        (OrgStamp(THEIRS, NOW), True, StampAction.WRITE),
    ],
)
def test_r_te_7_the_claim_decides(stamp: OrgStamp | None, take_over: bool, action: StampAction) -> None:
    assert decide(stamp, OURS, NOW, take_over=take_over) is action
