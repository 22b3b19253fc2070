"""What a subscription watches and for how long (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.mail.graph.subscriptions import CHANGE_TYPES, lifetime, resource
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import ActDeliveryMethod, EntityType, ExchangeApi, IncomingDeliveryMethod, ServerType
from sync.push.subscriber import RENEW_AHEAD, wanted_kinds


def test_lifetimes_stay_under_graphs_maximum_and_leave_room_to_renew() -> None:
    assert lifetime("mail") < timedelta(minutes=10_080) and lifetime("tasks") < timedelta(minutes=4_230)
    assert lifetime("tasks") > RENEW_AHEAD  # a To Do subscription is renewed before it expires


def test_resources_are_graphs_paths() -> None:
    assert resource("mail", "a@example.test") == "users/a@example.test/messages"
    assert resource("events", "a@example.test") == "users/a@example.test/events"
    assert resource("tasks", "a@example.test", "L/1") == "users/a@example.test/todo/lists/L%2F1/tasks"
    assert CHANGE_TYPES["mail"] == "created"
    with pytest.raises(ValueError):
        resource("tasks", "a@example.test")


def _profile(api: ExchangeApi = ExchangeApi.GRAPH) -> EmailServerProfile:
    return EmailServerProfile(name="p", server_type=ServerType.EXCHANGE_ONLINE, exchange_api=api)


def test_only_graph_mailboxes_are_watched_and_only_for_what_they_sync() -> None:
    user = EntityRef(type=EntityType.SYSTEM_USER, id="u1")
    incoming_only = Mailbox(name="m", email_address="a@example.test", owner=user)
    with_act = incoming_only.model_copy(update={"act_method": ActDeliveryMethod.SERVER_SIDE_SYNC})
    no_incoming = incoming_only.model_copy(update={"incoming_method": IncomingDeliveryMethod.NONE})

    assert wanted_kinds(incoming_only, _profile()) == ["mail"]
    assert wanted_kinds(with_act, _profile()) == ["mail", "events", "contacts", "tasks"]
    assert wanted_kinds(no_incoming, _profile()) == []
    assert wanted_kinds(incoming_only, _profile(ExchangeApi.EWS)) == []
    assert wanted_kinds(incoming_only, EmailServerProfile(name="p", server_type=ServerType.IMAP_SMTP)) == []
    assert wanted_kinds(incoming_only, None) == []
