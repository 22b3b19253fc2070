"""Readable option sets and references: the pure parsing and the API models Shape derives with them."""

from __future__ import annotations

import inspect
from enum import IntEnum

import pytest
from pydantic import ValidationError

from sync.api.mailboxes import SHAPE as MAILBOX
from sync.api.profiles import SHAPE as PROFILE
from sync.api.readable import RecordRef, UnknownOption, api_annotation, option_name, parse_option
from sync.api.resources import Shape
from sync.auth.secrets import SecretBox
from sync.incoming.reasons import Reason
from sync.model import Email, EntityRef, Mailbox, act, email, options, profile
from sync.model.options import EntityType, IncomingDeliveryMethod, ServerType, StateCode
from sync.model.profile import TlsMode

OPTION_SETS = [
    member
    for module in (options, act, email, profile)
    for _, member in inspect.getmembers(module, inspect.isclass)
    if issubclass(member, IntEnum) and member is not IntEnum
] + [Reason]


@pytest.mark.parametrize(
    "given",
    [2, "2", " 2 ", "server_side_sync", "SERVER_SIDE_SYNC", "Server Side Sync", "server-side-sync", "ServerSideSync"],
)
def test_a_name_in_any_spelling_or_the_number_gives_the_member(given: object) -> None:
    assert parse_option(IncomingDeliveryMethod, given) is IncomingDeliveryMethod.SERVER_SIDE_SYNC


def test_the_answered_object_is_read_back_by_its_value() -> None:
    assert parse_option(ServerType, {"value": 4, "name": "imap_smtp"}) is ServerType.IMAP_SMTP
    assert parse_option(ServerType, {"name": "imap_smtp"}) is ServerType.IMAP_SMTP
    with pytest.raises(UnknownOption, match="value and name must be the same ServerType"):
        parse_option(ServerType, {"value": 4, "name": "pop3_smtp"})  # edited name, stale value: not guessed


@pytest.mark.parametrize("given", ["teleport", 7, -1, True, 2.0, None, "", {"value": 9}])
def test_anything_else_is_refused_with_the_allowed_values(given: object) -> None:
    with pytest.raises(UnknownOption) as refused:
        parse_option(IncomingDeliveryMethod, given)
    assert str(refused.value) == (
        "unknown IncomingDeliveryMethod: use one of none = 0, outlook = 1, server_side_sync = 2, forward_mailbox = 3"
    )


@pytest.mark.parametrize("option_set", OPTION_SETS, ids=lambda o: o.__name__)
def test_every_name_of_an_option_set_stands_for_one_member(option_set: type[IntEnum]) -> None:
    for member in option_set:
        assert parse_option(option_set, option_name(member)) is member
        assert parse_option(option_set, member.name) is member
        assert parse_option(option_set, int(member)) is member


def test_tables_are_named_by_their_logical_name() -> None:
    assert option_name(EntityType.SYSTEM_USER) == "systemuser"
    assert option_name(EntityType.EMAIL_SERVER_PROFILE) == "emailserverprofile"
    assert parse_option(EntityType, "system_user") is EntityType.SYSTEM_USER


def test_a_record_reference_takes_the_logical_name_or_the_type_code() -> None:
    by_name = RecordRef.model_validate({"type": "Queue", "id": "q1"})
    by_code = RecordRef.model_validate({"type": 2020, "id": "q1"})
    assert by_name.ref() == by_code.ref() == EntityRef(type=EntityType.QUEUE, id="q1")
    assert by_code.model_dump(mode="json") == {"type": "queue", "id": "q1"}
    with pytest.raises(ValidationError):
        RecordRef.model_validate({"type": "spaceship", "id": "q1"})


def test_derived_models_read_names_and_the_entity_gets_the_member() -> None:
    body = PROFILE.create_model().model_validate({"name": "P", "server_type": "imap smtp", "incoming_tls": "STARTTLS"})
    built = PROFILE.build(body, SecretBox(bytes(32)))
    assert built.server_type is ServerType.IMAP_SMTP and built.incoming_tls is TlsMode.STARTTLS


def test_the_output_answers_with_name_and_number_and_references_by_table() -> None:
    mailbox = Mailbox(name="M", owner=EntityRef(type=EntityType.SYSTEM_USER, id="u1"), state=StateCode.INACTIVE)
    shown = MAILBOX.output(mailbox)
    assert shown["state"] == {"value": 1, "name": "inactive"}
    assert shown["incoming_method"] == {"value": 2, "name": "server_side_sync"}
    assert shown["owner"] == {"type": "systemuser", "id": "u1"}


def test_nested_values_are_readable_too() -> None:
    shown = Shape(Email).output(
        Email.model_validate({"direction": 1, "parties": [{"participation": 1, "party": {"type": 2, "id": "c1"}}]})
    )
    assert shown["direction"] == {"value": 1, "name": "outgoing"}
    assert shown["parties"][0]["participation"] == {"value": 1, "name": "sender"}
    assert shown["parties"][0]["party"] == {"type": "contact", "id": "c1"}


def test_annotations_without_option_sets_or_references_are_left_alone() -> None:
    assert api_annotation(int) is int
    assert api_annotation(str | None) == str | None
    assert api_annotation(EntityRef | None) == RecordRef | None
