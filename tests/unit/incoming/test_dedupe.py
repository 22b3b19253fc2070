from sync.incoming.dedupe import message_key, normalize_message_id


def test_brackets_and_space_are_ignored() -> None:
    assert normalize_message_id(" <abc@Example.COM> ") == "abc@example.com"


def test_local_part_keeps_its_case() -> None:
    assert normalize_message_id("<ABC@x>") != normalize_message_id("<abc@x>")


def test_empty_ids_are_none() -> None:
    assert normalize_message_id("<>") is None
    assert normalize_message_id(None) is None


def test_key_uses_the_message_id() -> None:
    assert message_key("<a@b>", b"x") == message_key("a@B", b"other bytes")


def test_key_without_message_id_hashes_the_bytes() -> None:
    assert message_key(None, b"one") != message_key(None, b"two")
    assert message_key(None, b"one") == message_key("", b"one")
