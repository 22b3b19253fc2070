"""Our Message-IDs name the email: the id is read back from a Message-ID of our shape, and only from one."""

from __future__ import annotations

import pytest

from sync.model.fields import new_id
from sync.outgoing.compose import message_id_for
from sync.outgoing.message_ids import email_id_named_by, is_email_id, same_message_id

EMAIL_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_the_message_id_of_an_email_names_it() -> None:
    email_id = new_id()
    assert email_id_named_by(message_id_for(email_id, "alice@Example.TEST")) == email_id


def test_brackets_and_surrounding_space_do_not_matter() -> None:
    assert email_id_named_by(f" <{EMAIL_ID}@example.test> ") == EMAIL_ID


@pytest.mark.parametrize(
    "message_id",
    [
        None,
        "",
        "<>",
        f"<{EMAIL_ID}>",  # no domain
        "<CAF=abc123@mail.gmail.com>",
        f"<{EMAIL_ID.upper()}@example.test>",  # our ids are lower case: another client's UUID
        f"<{EMAIL_ID.replace('-', '')}@example.test>",  # not the canonical form
        f"<x{EMAIL_ID}@example.test>",
        f"<{EMAIL_ID}.1@example.test>",
    ],
)
def test_other_message_ids_name_no_email(message_id: str | None) -> None:
    assert email_id_named_by(message_id) is None


def test_an_email_id_is_a_canonical_uuid() -> None:
    assert is_email_id(new_id())
    assert not is_email_id("{" + EMAIL_ID + "}")


def test_message_ids_compare_without_brackets_and_with_the_domain_case_folded() -> None:
    assert same_message_id(f"<{EMAIL_ID}@Example.Test>", f"{EMAIL_ID}@example.test")
    assert not same_message_id(f"<{EMAIL_ID}@example.test>", f"<{EMAIL_ID}@fabrikam.test>")
    assert not same_message_id(None, None)
