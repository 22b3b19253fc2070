"""The console's pure pieces: state words and tones, the grid's storage filter, the settings form's body."""

from __future__ import annotations

from sync.console.forms import Form
from sync.console.grid import GridFilter
from sync.console.mailbox_page import settings_changes
from sync.console.words import state_tone, state_word
from sync.operations.states import WorkloadState


def test_every_state_has_words_and_a_tone() -> None:
    for state in WorkloadState:
        assert state_word(state) and state_word(state) != state.value
        assert state_tone(state) in {"good", "bad", "warn", "muted"}
    assert state_tone("failing") == "bad" and state_word("no_such_state") == "No such state"


def test_no_filter_reads_every_mailbox() -> None:
    assert GridFilter().storage_filter() == (None, {})


def test_parameters_stand_apart_from_parentheses() -> None:
    """The Tables SDK finds ``@name`` by splitting the filter on spaces: ``@upper)`` would name nothing."""
    query, params = GridFilter(profile_id="p1", errors_only=True, search="Ali").storage_filter()
    assert query is not None
    for word in query.split(" "):
        if word.startswith("@"):
            assert word[1:] in params, word
    assert params["lower"] == "ali" and params["name"] == "Ali"  # addresses are stored lower case, names as typed


def test_the_settings_form_is_a_patch_body() -> None:
    form = Form({
        "name": ["Alice"], "username": [""], "incoming_method": ["server_side_sync"], "outgoing_method": ["none"],
        "act_method": ["none"], "enabled_for_incoming": ["on"], "email_server_profile_id": [""], "password": [""],
    })  # fmt: skip
    body = settings_changes(form)
    assert body["enabled_for_incoming"] is True and body["enabled_for_outgoing"] is False  # unchecked: off
    assert body["username"] is None and body["email_server_profile_id"] is None
    assert "password" not in body  # blank: the stored password stays
    assert settings_changes(Form({**form.fields, "password": ["s3cret"]}))["password"] == "s3cret"
