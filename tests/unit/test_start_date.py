from datetime import UTC, datetime, timedelta

import pytest

from sync.errors import ValidationFailed
from sync.mailboxes.start_date import check_not_too_old, moved_back

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_r_in_4_a_date_within_the_maximum_days_is_allowed() -> None:
    check_not_too_old(NOW - timedelta(days=90), now=NOW, max_days=90, field="f")


def test_r_in_4_a_date_beyond_the_maximum_days_names_its_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_not_too_old(NOW - timedelta(days=90, seconds=1), now=NOW, max_days=90, field="f")
    assert refused.value.field == "f"


def test_r_in_4_an_earlier_start_or_none_at_all_moves_it_back() -> None:
    assert moved_back(NOW, NOW - timedelta(days=1))
    assert moved_back(NOW, None)


def test_r_in_4_a_later_or_a_first_start_does_not() -> None:
    assert not moved_back(NOW, NOW + timedelta(days=1))
    assert not moved_back(None, NOW)
