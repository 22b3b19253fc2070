from dataclasses import dataclass

from sync.incoming.sanitize import clean_text, sanitize

UTF8_ESCAPED = "é".encode().decode("ascii", "surrogateescape")


@dataclass(frozen=True)
class Box:
    text: str
    items: list[str]
    data: bytes


def test_escaped_utf8_is_recovered() -> None:
    assert clean_text(UTF8_ESCAPED) == "é"


def test_other_escaped_bytes_become_replacement_characters() -> None:
    assert clean_text(b"\xff".decode("ascii", "surrogateescape")) == "\ufffd"


def test_nul_is_dropped() -> None:
    assert clean_text("a\x00b") == "ab"


def test_dataclasses_are_cleaned_deeply_and_bytes_kept() -> None:
    assert sanitize(Box(UTF8_ESCAPED, [UTF8_ESCAPED], b"\xff")) == Box("é", ["é"], b"\xff")
