from datetime import UTC, datetime, timedelta

from sync.act.conflict import Direction, Side, resolve

EARLY = datetime(2026, 11, 1, 9, tzinfo=UTC)
LATE = EARLY + timedelta(minutes=5)


def test_a_change_on_one_side_flows_to_the_other() -> None:
    result = resolve(Side({"subject": "New"}, LATE, True), Side({"subject": "Old"}, EARLY, False), {})
    assert (result.to_exchange, result.to_crm, result.conflict) == ({"subject": "New"}, {}, False)


def test_both_changed_the_later_writer_wins_field_by_field() -> None:
    crm = Side({"subject": "CRM", "location": "Room 1"}, EARLY, True)
    exchange = Side({"subject": "Outlook", "location": "Room 1"}, LATE, True)
    result = resolve(crm, exchange, {})
    assert result.conflict and result.to_crm == {"subject": "Outlook"} and result.to_exchange == {}
    assert result.summary == "conflict: subject<-exchange"


def test_the_crm_wins_a_tie() -> None:
    result = resolve(Side({"subject": "CRM"}, EARLY, True), Side({"subject": "Outlook"}, EARLY, True), {})
    assert result.to_exchange == {"subject": "CRM"}


def test_direction_comes_before_time() -> None:
    crm = Side({"status": "Busy", "body": "crm"}, EARLY, True)
    exchange = Side({"status": "Free", "body": "outlook"}, LATE, True)
    directions = {"status": Direction.TO_EXCHANGE, "body": Direction.NONE}
    result = resolve(crm, exchange, directions)
    assert result.to_exchange == {"status": "Busy"} and result.to_crm == {}  # body synced neither way


def test_an_exchange_only_field_is_never_pushed() -> None:
    result = resolve(
        Side({"location": "CRM"}, LATE, True),
        Side({"location": "Outlook"}, EARLY, False),
        {"location": Direction.TO_CRM},
    )
    assert result.to_exchange == {} and result.to_crm == {"location": "Outlook"}


def test_nothing_changed_nothing_moves() -> None:
    assert resolve(Side({"a": 1}, EARLY, False), Side({"a": 2}, LATE, False), {}).winners == {}
