"""The spellings Graph may give an id EWS gave."""

from __future__ import annotations

from sync.mail.graph.ews_ids import needs_spelling, rest_spellings


def test_an_id_with_slashes_and_pluses_has_both_url_safe_spellings() -> None:
    assert rest_spellings("AAMk/oC+KF==") == ("AAMk-oC_KF==", "AAMk_oC-KF==")


def test_an_id_without_them_is_its_own_rest_id() -> None:
    assert rest_spellings("AAMkADQxMTViNmEz") == ("AAMkADQxMTViNmEz",)


def test_only_ids_with_a_slash_or_a_plus_need_another_spelling() -> None:
    assert needs_spelling("AAMk/oC==") and needs_spelling("AAMk+oC==")
    assert not needs_spelling("AAMk-oC_KF==")
