"""Header decoding: RFC 2047 encoded words, raw 8-bit bytes, msg-ids, dates (pure, one behaviour each)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sync.mail import headers


def decoded(value: str) -> str:
    return headers.text(value, [])


def test_plain_subject_unchanged() -> None:
    assert decoded("Hello world") == "Hello world"


def test_q_encoded_word() -> None:
    assert decoded("=?iso-8859-1?q?caf=E9_cr=E8me?=") == "café crème"


def test_b_encoded_word() -> None:
    assert decoded("=?utf-8?b?w6l0w6k=?=") == "été"


def test_whitespace_between_adjacent_encoded_words_dropped() -> None:
    assert decoded("=?utf-8?q?a?= =?utf-8?q?b?=") == "ab"


def test_whitespace_between_word_and_text_kept() -> None:
    assert decoded("Re: =?utf-8?q?caf=C3=A9?= ok") == "Re: café ok"


def test_multibyte_character_split_across_words() -> None:
    assert decoded("=?utf-8?q?=C3?= =?utf-8?q?=A9?=") == "é"


def test_folded_subject_unfolded() -> None:
    assert decoded("=?utf-8?q?Die_hei=C3=9Fe?=\n =?utf-8?q?_Sonne?=") == "Die heiße Sonne"


def test_encoded_crlf_removed() -> None:
    assert decoded("=?utf-8?q?line1=0D=0Aline2?=") == "line1line2"


def test_missing_base64_padding_tolerated() -> None:
    assert decoded("=?utf-8?b?w6l0w6k?=") == "été"


def test_language_suffix_ignored() -> None:
    assert decoded("=?utf-8*en?q?hello?=") == "hello"


def test_broken_word_kept_as_written() -> None:
    assert decoded("=?utf-8?b?a?=") == "=?utf-8?b?a?="  # one base64 character cannot be decoded


def test_unknown_charset_is_a_defect() -> None:
    defects: list[str] = []
    headers.text("=?x-klingon?q?abc?=", defects)
    assert defects[0].startswith("undecodable charset 'x-klingon'")


def test_unknown_charset_still_gives_text() -> None:
    assert decoded("=?x-klingon?q?abc?=") == "abc"


def test_raw_utf8_header() -> None:
    raw = "Gr\udcc3\udcbc\udcc3\udc9fe"  # "Grüße" as compat32 keeps raw bytes
    assert decoded(raw) == "Grüße"


def test_raw_latin1_header() -> None:
    assert decoded("Gr\udcfc\udcdfe") == "Grüße"


def test_cjk_iso_2022_jp_word() -> None:
    assert decoded("=?iso-2022-jp?b?GyRCJUYlOSVIGyhC?=") == "テスト"


def test_long_header_capped_with_defect() -> None:
    defects: list[str] = []
    headers.capped("Subject", "x" * 70_000, defects)
    assert defects == ["header too long: Subject 70000 chars > 65536, truncated"]


def test_msg_ids_in_order() -> None:
    assert headers.msg_ids("<a@x> <b@y>\n <c@z>") == ["<a@x>", "<b@y>", "<c@z>"]


def test_msg_id_with_junk_around() -> None:
    assert headers.msg_ids('Your message of "Mon" <a@x>') == ["<a@x>"]


def test_bare_msg_id_accepted() -> None:
    assert headers.msg_ids("a@x") == ["a@x"]


def test_date_with_zone() -> None:
    expected = datetime(2001, 4, 20, 19, 35, 2, tzinfo=timezone(timedelta(hours=-4)))
    assert headers.date("Fri, 20 Apr 2001 19:35:02 -0400", []) == expected


def test_date_without_zone_is_utc() -> None:
    assert headers.date("Fri, 20 Apr 2001 19:35:02 -0000", []) == datetime(2001, 4, 20, 19, 35, 2, tzinfo=UTC)


def test_bad_date_is_a_defect() -> None:
    defects: list[str] = []
    headers.date("yesterday-ish", defects)
    assert defects == ["invalid date: 'yesterday-ish'"]
