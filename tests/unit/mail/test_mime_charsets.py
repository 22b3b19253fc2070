"""Body text decoding with declared, missing, wrong and unknown charsets."""

from __future__ import annotations

from sync.mail import charsets


def test_declared_charset_used() -> None:
    assert charsets.decode("café".encode("iso-8859-1"), "ISO-8859-1") == ("café", None)


def test_quoted_charset_name() -> None:
    assert charsets.decode(b"abc", '"utf-8"') == ("abc", None)


def test_no_charset_valid_utf8() -> None:
    assert charsets.decode("été".encode(), None) == ("été", None)


def test_no_charset_legacy_bytes_as_windows_1252() -> None:
    assert charsets.decode(b"\x93quoted\x94", None) == ("\u201cquoted\u201d", None)


def test_us_ascii_over_utf8_is_not_a_defect() -> None:
    assert charsets.decode("naïve".encode(), "us-ascii") == ("naïve", None)


def test_unknown_charset_falls_back() -> None:
    assert charsets.decode("été".encode(), "x-unknown")[0] == "été"


def test_unknown_charset_reported() -> None:
    assert (
        charsets.decode(b"abc", "x-unknown")[1] == "undecodable charset 'x-unknown': unknown, decoded as utf-8/cp1252"
    )


def test_invalid_bytes_replaced_and_reported() -> None:
    assert charsets.decode(b"ok\xff", "utf-8") == ("ok\ufffd", "undecodable charset 'utf-8': invalid bytes replaced")


def test_gb2312_label_decoded_as_gb18030() -> None:
    assert charsets.decode("中文".encode("gb18030"), "gb2312") == ("中文", None)


def test_ks_c_5601_alias() -> None:
    assert charsets.decode("한국".encode("cp949"), "ks_c_5601-1987") == ("한국", None)


def test_non_text_codec_refused() -> None:
    assert charsets.decode(b"uryyb", "rot13")[1] is not None


def test_charset_name_with_nul_is_unknown() -> None:
    assert charsets.decode(b"abc", "utf\x008")[0] == "abc"


def test_idna_does_not_raise() -> None:
    assert charsets.decode(b"\xff\xfe", "idna")[1] == "undecodable charset 'idna': invalid bytes replaced"
