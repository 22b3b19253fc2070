"""Pure parts of the IMAP/POP3 connectors: message keys, listing parsers and watermark advancing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sync.mail.imap import ImapSession, message_key, parse_key
from sync.mail.pop3 import Pop3Session, parse_scan_line, parse_uidl
from sync.mail.port import RemoteMessage
from sync.model.mailbox import FolderWatermark

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def imap_message(uid_validity: int, uid: int, received_on: datetime | None = T0) -> RemoteMessage:
    return RemoteMessage(key=message_key(uid_validity, uid), size=100, received_on=received_on, uid=uid)


def advance(watermark: FolderWatermark, message: RemoteMessage) -> FolderWatermark:
    return ImapSession(client=None, where="IMAP test", secret="").advance(watermark, message)  # pure: no client use


# --- keys ------------------------------------------------------------------------------------------


def test_key_is_uidvalidity_colon_uid() -> None:
    assert message_key(1700000000, 42) == "1700000000:42"


def test_key_round_trips() -> None:
    assert parse_key(message_key(7, 9)) == (7, 9)


@pytest.mark.parametrize("key", ["", "42", "a:1", "1:", ":1", "1:2:3", "000000016b060e5b"])
def test_not_an_imap_key(key: str) -> None:
    with pytest.raises(ValueError, match="not an IMAP message key"):
        parse_key(key)


# --- POP3 listings -----------------------------------------------------------------------------------


def test_uidl_lines_map_uidl_to_number() -> None:
    assert parse_uidl([b"1 000000016b060e5b", b"2 000000026b060e5b"]) == {"000000016b060e5b": 1, "000000026b060e5b": 2}


def test_repeated_uidl_keeps_the_oldest_message() -> None:
    assert parse_uidl([b"1 same", b"2 same"]) == {"same": 1}


def test_malformed_uidl_lines_are_skipped() -> None:
    assert parse_uidl([b"x abc", b"3", b"4 ok"]) == {"ok": 4}


def test_scan_line_from_a_listing() -> None:
    assert parse_scan_line(b"3 1200") == (3, 1200)


def test_scan_line_from_a_single_list_answer() -> None:
    assert parse_scan_line(b"+OK 3 1200") == (3, 1200)


# --- watermarks --------------------------------------------------------------------------------------


def test_advance_in_the_same_epoch_keeps_the_highest_uid() -> None:
    watermark = FolderWatermark(folder="INBOX", uid_validity=5, last_uid=10, last_received_on=T0)
    assert advance(watermark, imap_message(5, 7)).last_uid == 10


def test_advance_moves_last_uid_forward() -> None:
    watermark = FolderWatermark(folder="INBOX", uid_validity=5, last_uid=10, last_received_on=T0)
    assert advance(watermark, imap_message(5, 11)).last_uid == 11


def test_advance_into_a_new_epoch_restarts_from_the_message() -> None:
    watermark = FolderWatermark(folder="INBOX", uid_validity=5, last_uid=10_000, last_received_on=T0)
    advanced = advance(watermark, imap_message(6, 3, T0 + timedelta(hours=1)))
    assert (advanced.uid_validity, advanced.last_uid) == (6, 3)


def test_advance_keeps_the_latest_received_on() -> None:
    watermark = FolderWatermark(folder="INBOX", uid_validity=5, last_uid=1, last_received_on=T0)
    assert advance(watermark, imap_message(5, 2, T0 - timedelta(days=1))).last_received_on == T0


def test_advance_compares_naive_stored_times_as_utc() -> None:
    watermark = FolderWatermark(folder="INBOX", uid_validity=5, last_uid=1, last_received_on=T0.replace(tzinfo=None))
    later = T0.astimezone(timezone(timedelta(hours=2))) + timedelta(minutes=1)
    assert advance(watermark, imap_message(5, 2, later)).last_received_on == later


def test_first_advance_sets_everything() -> None:
    advanced = advance(FolderWatermark(folder="INBOX"), imap_message(5, 2))
    assert (advanced.uid_validity, advanced.last_uid, advanced.last_received_on) == (5, 2, T0)


def test_advance_keeps_folder_and_sync_state() -> None:
    watermark = FolderWatermark(folder="INBOX", sync_state="opaque")
    advanced = advance(watermark, imap_message(5, 2))
    assert (advanced.folder, advanced.sync_state) == ("INBOX", "opaque")


def test_advance_does_not_change_its_input() -> None:
    watermark = FolderWatermark(folder="INBOX", uid_validity=5, last_uid=1)
    advance(watermark, imap_message(5, 2))
    assert watermark.last_uid == 1


def test_pop3_advance_leaves_the_watermark_alone() -> None:
    watermark = FolderWatermark(folder="INBOX", last_received_on=T0)
    message = RemoteMessage(key="000000016b060e5b", size=10, received_on=None)
    assert Pop3Session(client=None, where="POP3 test", secret="").advance(watermark, message) is watermark  # type: ignore[arg-type]
