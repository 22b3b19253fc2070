"""Address lists: display names, groups, comments, encoded words, invalid addresses."""

from __future__ import annotations

import time

from sync.mail.addresses import Address, is_valid, parse_address_list


def parsed(value: str) -> list[Address]:
    return parse_address_list(value, "To", [])


def test_name_and_address() -> None:
    assert parsed("Alice Example <alice@example.test>") == [Address("Alice Example", "alice@example.test")]


def test_bare_address() -> None:
    assert parsed("bob@example.test") == [Address("", "bob@example.test")]


def test_quoted_name_with_comma() -> None:
    assert parsed('"Doe, John" <john@example.test>, x@example.test') == [
        Address("Doe, John", "john@example.test"),
        Address("", "x@example.test"),
    ]


def test_encoded_display_name() -> None:
    assert parsed("=?utf-8?q?J=C3=BCrgen?= <j@example.test>") == [Address("Jürgen", "j@example.test")]


def test_old_style_comment_name() -> None:
    assert parsed("carol@example.test (Carol)") == [Address("Carol", "carol@example.test")]


def test_group_members_kept() -> None:
    assert parsed("Team: a@example.test, b@example.test;") == [
        Address("", "a@example.test"),
        Address("", "b@example.test"),
    ]


def test_empty_group_gives_nothing() -> None:
    assert parsed("undisclosed-recipients:;") == []


def test_comment_after_empty_group_is_not_an_address() -> None:
    defects: list[str] = []
    parse_address_list("unlisted-recipients:; (no To-header on input)", "To", defects)
    assert defects == []


def test_folded_list() -> None:
    assert len(parsed("a@example.test,\r\n\tb@example.test")) == 2


def test_invalid_address_dropped() -> None:
    assert parsed("foo, ok@example.test") == [Address("", "ok@example.test")]


def test_invalid_address_is_a_defect() -> None:
    defects: list[str] = []
    parse_address_list("foo", "Cc", defects)
    assert defects == ["invalid address: 'foo' in Cc"]


def test_empty_angle_address_invalid() -> None:
    assert parsed("MAILER DAEMON <>") == []


def test_x500_address_invalid() -> None:
    assert not is_valid("/O=EXCHANGELABS/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=alice")


def test_quoted_local_part_valid() -> None:
    assert is_valid('"john doe"@example.test')


def test_source_route_dropped() -> None:
    assert parsed("<@relay.test:user@example.test>") == [Address("", "user@example.test")]


def test_raw_utf8_display_name() -> None:
    assert parsed("Gr\udcc3\udcbc <g@example.test>") == [Address("Grü", "g@example.test")]


def test_long_list_is_linear() -> None:
    value = ", ".join(f'"Person {i}" <person.{i}@example.test>' for i in range(2000))
    started = time.perf_counter()
    parsed(value)
    assert time.perf_counter() - started < 1.0
