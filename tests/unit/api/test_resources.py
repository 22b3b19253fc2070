"""Models derived from entities: secrets never in the output, write-only in the input, unknown fields refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sync.api.mailboxes import SHAPE as MAILBOX
from sync.api.profiles import SHAPE as PROFILE
from sync.api.resources import odata_filter
from sync.auth.secrets import SecretBox, new_key
from sync.model import EmailServerProfile
from sync.model.options import ServerType, StateCode

BOX = SecretBox(bytes(32))


def test_the_output_has_flags_instead_of_secrets() -> None:
    fields = PROFILE.output_model().model_fields
    assert "incoming_password" not in fields and "oauth_client_secret" not in fields
    assert {"incoming_password_is_set", "outgoing_password_is_set", "oauth_client_secret_is_set", "etag"} <= set(fields)
    assert (
        "password" not in MAILBOX.output_model().model_fields
        and "watermarks" not in MAILBOX.output_model().model_fields
    )


def test_create_seals_the_plaintext_and_the_output_hides_it() -> None:
    body = PROFILE.create_model().model_validate({"name": "P", "server_type": 4, "incoming_password": "pw"})
    profile = PROFILE.build(body, BOX)
    assert profile.incoming_password is not None and profile.incoming_password.startswith("aesgcm1:")
    out = PROFILE.output(profile)
    assert out["incoming_password_is_set"] is True and "pw" not in str(out.values())


def test_update_applies_only_what_was_sent_and_null_clears_a_secret() -> None:
    profile = EmailServerProfile(name="P", server_type=ServerType.IMAP_SMTP)
    body = PROFILE.update_model().model_validate({"incoming_password": "pw"})
    sealed = PROFILE.merged(profile, body, BOX)
    assert sealed.name == "P" and sealed.incoming_password_is_set
    cleared = PROFILE.merged(sealed, PROFILE.update_model().model_validate({"incoming_password": None}), BOX)
    assert not cleared.incoming_password_is_set


def test_input_refuses_unknown_read_only_and_system_fields() -> None:
    create = PROFILE.create_model()
    for extra in ({"id": "x"}, {"last_test_execution_status": 1}, {"incoming_password_is_set": True}):
        with pytest.raises(ValidationError):
            create.model_validate({"name": "P", "server_type": 4, **extra})
    with pytest.raises(ValidationError):
        MAILBOX.update_model().model_validate({"approval": 1})  # approval is an action, not a field


def test_a_null_for_a_required_field_is_refused_on_update() -> None:
    with pytest.raises(ValidationError):
        PROFILE.update_model().model_validate({"name": None})
    assert PROFILE.update_model().model_validate({"description": None}).model_fields_set == {"description"}


def test_odata_filter_compares_enums_as_stored() -> None:
    assert odata_filter({"state": StateCode.INACTIVE, "server_type": None}) == ("state eq @state", {"state": 1})
    assert odata_filter({}) == (None, {})
    assert new_key()  # the box key used above is arbitrary
