"""The pydantic <-> Table entity mapping, without a server."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.data.tables import EdmType, EntityProperty

from sync.errors import EntityTooLarge
from sync.model import ActivityParty, Email, Mailbox
from sync.model.email import BlobRef
from sync.model.fields import EntityRef
from sync.model.mailbox import FolderWatermark
from sync.model.options import EmailStatus, EntityType, ParticipationType
from sync.store.codec import decode, encode
from sync.store.keys import hashed_key, safe_key

USER = EntityRef(type=EntityType.SYSTEM_USER, id="u1")


def _email() -> Email:
    return Email(
        direction=0,
        status=EmailStatus.RECEIVED,
        subject="Hello",
        parties=[
            ActivityParty(participation=ParticipationType.SENDER, address_used="a@example.test"),
            ActivityParty(participation=ParticipationType.TO_RECIPIENT, party=USER, address_used="b@example.test"),
        ],
        references=["<a@x>", "<b@x>"],
        body_blob=BlobRef(container="bodies", name="e1", size=10),
        delivery_attempts=3,
    )


def test_round_trip_keeps_every_field() -> None:
    email = _email()
    entity = encode(email, "pk", "rk")
    assert decode(Email, entity) == email


def test_enums_stored_as_dynamics_integers() -> None:
    entity = encode(_email(), "pk", "rk")
    assert entity["status"] == 4
    assert type(entity["status"]) is int
    assert entity["direction"] == 0


def test_none_is_not_stored() -> None:
    entity = encode(_email(), "pk", "rk")
    assert "message_id" not in entity
    assert "tracking_token" not in entity


def test_nested_values_become_json_properties() -> None:
    entity = encode(_email(), "pk", "rk")
    assert isinstance(entity["parties__json"], str)
    assert '"participation":1' in entity["parties__json"]
    assert "parties" not in entity


def test_large_ints_are_int64() -> None:
    mailbox = Mailbox(name="m", email_address="m@example.test", owner=USER, last_duration_ms=2**40)
    entity = encode(mailbox, "pk", "rk")
    assert isinstance(entity["last_duration_ms"], EntityProperty)
    assert entity["last_duration_ms"].edm_type is EdmType.INT64
    assert decode(Mailbox, entity).last_duration_ms == 2**40
    assert entity["no_email_count"] == 0  # small ints stay plain Int32


def test_datetimes_are_stored_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    mailbox = Mailbox(
        name="m",
        email_address="m@example.test",
        owner=USER,
        lease_expires_on=datetime(2026, 1, 1, 12, 0, tzinfo=plus_two),
    )
    stored = encode(mailbox, "pk", "rk")["lease_expires_on"]
    assert stored == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert stored.tzinfo is UTC


def test_watermarks_round_trip() -> None:
    mailbox = Mailbox(
        name="m",
        email_address="m@example.test",
        owner=USER,
        watermarks={"INBOX": FolderWatermark(folder="INBOX", uid_validity=7, last_uid=2**33)},
    )
    assert decode(Mailbox, encode(mailbox, "p", "r")).watermarks["INBOX"].last_uid == 2**33


def test_long_json_is_split_over_several_properties() -> None:
    mailbox = Mailbox(
        name="m",
        email_address="m@example.test",
        owner=USER,
        watermarks={f"f{n}": FolderWatermark(folder=f"f{n}", sync_state="s" * 30_000) for n in range(3)},
    )
    entity = encode(mailbox, "pk", "rk")
    parts = sorted(k for k in entity if k.startswith("watermarks__json"))
    assert parts == ["watermarks__json", "watermarks__json1", "watermarks__json2", "watermarks__json3"]
    assert all(len(entity[k]) <= 30_000 for k in parts)
    assert decode(Mailbox, entity) == mailbox


def test_oversized_entity_is_refused() -> None:
    mailbox = Mailbox(
        name="m",
        email_address="m@example.test",
        owner=USER,
        watermarks={f"f{n}": FolderWatermark(folder=f"f{n}", sync_state="s" * 30_000) for n in range(20)},
    )
    with pytest.raises(EntityTooLarge, match="1 MiB"):
        encode(mailbox, "pk", "rk")


def test_system_properties_and_unknown_columns_are_ignored_on_read() -> None:
    entity = encode(_email(), "pk", "rk")
    entity["Timestamp"] = datetime.now(UTC)
    entity["column_from_a_newer_version"] = "x"
    assert decode(Email, entity).subject == "Hello"


@pytest.mark.parametrize("text", ["a/b@example.test", "we#ird?@x", "back\\slash@x", "per%cent@x", "ctl\x01@x"])
def test_safe_key_escapes_forbidden_characters(text: str) -> None:
    key = safe_key(text)
    assert not any(ch in key for ch in "/\\#?")
    assert all(ord(ch) >= 0x20 for ch in key)


def test_safe_key_is_one_to_one_for_escapes() -> None:
    assert safe_key("a%2Fb") != safe_key("a/b")


def test_safe_key_keeps_plain_addresses_readable() -> None:
    assert safe_key("alice@example.test") == "alice@example.test"


def test_long_keys_are_bounded_and_distinct() -> None:
    a, b = safe_key("x" * 2000 + "a"), safe_key("x" * 2000 + "b")
    assert len(a) < 512 and a != b


def test_hashed_key_is_stable() -> None:
    assert hashed_key("AAMkAD/+=") == hashed_key("AAMkAD/+=")
    assert len(hashed_key("x")) == 64


def test_long_strings_are_chunked_and_round_trip() -> None:
    email = Email(direction=0, description="é" * 70_000)
    entity = encode(email, "pk", "rk")
    assert "description" not in entity
    assert sorted(k for k in entity if k.startswith("description__json")) == [
        "description__json",
        "description__json1",
        "description__json2",
    ]
    assert decode(Email, entity).description == "é" * 70_000
