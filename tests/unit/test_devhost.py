"""The dev host's pure parts: NCRONTAB schedules, host.json time spans and queue options, %SETTING% names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.devhost import QueueOptions, Schedule, load_host_json, parse_timespan, resolve_setting
from sync.errors import ConfigurationError
from sync.settings import load_settings

T0 = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)  # a Tuesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */1 * * * *", datetime(2030, 1, 1, 12, 1, 0, tzinfo=UTC)),
        ("0 */5 * * * *", datetime(2030, 1, 1, 12, 5, 0, tzinfo=UTC)),
        ("*/10 * * * * *", datetime(2030, 1, 1, 12, 0, 40, tzinfo=UTC)),
        ("0 30 9 * * 1-5", datetime(2030, 1, 2, 9, 30, 0, tzinfo=UTC)),
        ("0 0 0 1 * *", datetime(2030, 2, 1, 0, 0, 0, tzinfo=UTC)),
        ("0 0 10 * * 0", datetime(2030, 1, 6, 10, 0, 0, tzinfo=UTC)),
        ("0 0 10 * * 7", datetime(2030, 1, 6, 10, 0, 0, tzinfo=UTC)),  # 7 is Sunday too
        ("0 15,45 * * * *", datetime(2030, 1, 1, 12, 15, 0, tzinfo=UTC)),
    ],
)
def test_next_firing_time(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(T0) == expected


@pytest.mark.parametrize("expression", ["* * * * *", "61 * * * * *", "0 */0 * * * *", "x * * * * *"])
def test_bad_expressions_are_refused(expression: str) -> None:
    with pytest.raises(ValueError):
        Schedule.parse(expression)


def test_timespans_and_the_projects_host_json() -> None:
    assert parse_timespan("00:00:30") == 30 and parse_timespan("1.00:00:01") == 86401
    options = QueueOptions.from_host_json(load_host_json())
    assert (options.batch_size, options.max_dequeue_count, options.visibility_timeout_seconds) == (16, 5, 30)
    assert QueueOptions.from_host_json({}) == QueueOptions()


def test_setting_expressions_resolve_through_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(
        storage_connection_string="UseDevelopmentStorage=true",
        secret_encryption_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    assert resolve_setting("%SYNC_MAILBOX_SCHEDULE%", settings) == "0 */1 * * * *"
    assert resolve_setting("mailbox-work", settings) == "mailbox-work"
    monkeypatch.setenv("MY_QUEUE", "custom")
    assert resolve_setting("%MY_QUEUE%", settings) == "custom"
    with pytest.raises(ConfigurationError):
        resolve_setting("%NOWHERE_SET%", settings)
