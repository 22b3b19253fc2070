"""The expiry index's time (sync/store/expiring_rows.py): rounded up, so no row goes before it expired."""

from __future__ import annotations

from datetime import UTC, datetime

from sync.store.expiring_rows import rounded_up


def test_a_fraction_of_a_second_rounds_up() -> None:
    assert rounded_up(datetime(2026, 1, 1, 8, 0, 0, 1, tzinfo=UTC)) == datetime(2026, 1, 1, 8, 0, 1, tzinfo=UTC)


def test_a_whole_second_stays() -> None:
    assert rounded_up(datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)) == datetime(2026, 1, 1, 8, 0, 0, tzinfo=UTC)
