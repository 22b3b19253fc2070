from email.message import EmailMessage

from sync.incoming.dedupe import CONTENT_KEY_PREFIX, canonical_content, message_key, normalize_message_id
from sync.mail.mime import parse_message


def test_brackets_and_space_are_ignored() -> None:
    assert normalize_message_id(" <abc@Example.COM> ") == "abc@example.com"


def test_local_part_keeps_its_case() -> None:
    assert normalize_message_id("<ABC@x>") != normalize_message_id("<abc@x>")


def test_empty_ids_are_none() -> None:
    assert normalize_message_id("<>") is None
    assert normalize_message_id(None) is None


def test_key_uses_the_message_id() -> None:
    assert message_key("<a@b>", b"x") == message_key("a@B", b"other bytes")


# --- messages without a Message-ID: keyed by what their author wrote ------------------------------------


def _written(**overrides: str) -> bytes:
    """A message as its author's client wrote it, without a Message-ID."""
    fields = {
        "From": "Carol Clark <carol@fabrikam.test>",
        "To": "Alice <alice@example.test>",
        "Cc": "dan@contoso.test",
        "Date": "Mon, 02 Mar 2026 09:15:00 +0100",
        "Subject": "Order 42: a question about the delivery date",
        "Body": "Hello Alice,\n\nwhen will order 42 arrive?\n\nCarol\n",
    }
    fields.update(overrides)
    msg = EmailMessage()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        msg[name] = fields[name]
    msg.set_content(fields["Body"])
    return msg.as_bytes()


def _key(raw: bytes) -> str:
    parsed = parse_message(raw, max_bytes=10_000_000, max_nesting=20, timeout_seconds=10.0)
    assert parsed.message_id is None  # the real parser finds no Message-ID: the content decides
    return message_key(parsed.message_id, raw)


def _as_stored(raw: bytes) -> bytes:
    """The same message after delivery: trace and mailbox-format headers on top, CRLF line endings,
    a fold moved and trailing white space added (what MTAs, LMTP, mbox and POP3 servers do)."""
    server_headers = (
        b"Return-Path: <carol@fabrikam.test>\n"
        b"Delivered-To: alice@example.test\n"
        b"Received: from mx.fabrikam.test by mail.example.test with LMTP id Zx81; Mon, 02 Mar 2026 09:15:03 +0100\n"
        b"X-Original-To: alice@example.test\n"
        b"X-UID: 17\n"
        b"X-IMAPbase: 1700000000 0000000017\n"
        b"X-IMAP: 1700000000 0000000017\n"
        b"Status: RO\n"
        b"X-Status: A\n"
        b"X-Keywords: $Forwarded\n"
        b"Content-Length: 42\n"
        b"Lines: 5\n"
    )
    moved = raw.replace(b"Subject: Order 42: a question", b"Subject: Order 42:\n a question")
    trailing = moved.replace(b"Hello Alice,\n", b"Hello Alice,  \n") + b"\n\n"
    return (server_headers + trailing).replace(b"\n", b"\r\n")


def test_the_same_message_with_server_headers_and_crlf_has_the_same_key() -> None:
    raw = _written()
    assert _key(raw) == _key(_as_stored(raw))
    assert _key(raw).startswith(CONTENT_KEY_PREFIX)


def test_two_servers_adding_different_trace_headers_agree() -> None:
    raw = _written()
    first = b"Received: from a by b; Mon, 02 Mar 2026 09:15:03 +0100\nX-UID: 1\n" + raw
    second = b"Received: from c by d; Tue, 03 Mar 2026 10:00:00 +0100\nStatus: O\nX-UID: 99\n" + raw
    assert _key(first) == _key(second) == _key(raw)


def test_different_messages_have_different_keys() -> None:
    base = _key(_written())
    variants = [
        _written(From="Dan Diaz <dan@contoso.test>"),
        _written(To="Bob <bob@example.test>"),
        _written(Cc="erin@contoso.test"),
        _written(Date="Mon, 02 Mar 2026 09:16:00 +0100"),
        _written(Subject="Order 43: a question about the delivery date"),
        _written(Body="Hello Alice,\n\nwhen will order 43 arrive?\n\nCarol\n"),
    ]
    keys = {_key(raw) for raw in variants}
    assert base not in keys and len(keys) == len(variants)


def test_8bit_header_values_are_compared_as_written() -> None:
    raw = _written()
    one = raw.replace(b"Subject: Order 42", "Subject: Commande \u00e9t\u00e9".encode())
    two = raw.replace(b"Subject: Order 42", "Subject: Commande \u00e0 vous".encode())
    assert message_key(None, one) != message_key(None, two)


def test_a_message_without_a_body_still_has_a_key() -> None:
    assert canonical_content(b"From: a@b\r\nSubject: x") == canonical_content(b"From: a@b\nSubject: x\n")
    assert message_key(None, b"") == message_key("", b"")
