"""The notification body parser and the clientState comparison (pure)."""

from __future__ import annotations

import pytest

from sync.push.notifications import MalformedNotification, client_state_matches, parse


def test_a_change_and_a_lifecycle_notification_are_told_apart() -> None:
    change, lifecycle = parse({"value": [
        {"subscriptionId": "s1", "clientState": "c", "changeType": "created", "resource": "Users/u/Messages/m"},
        {"subscriptionId": "s2", "clientState": "c", "lifecycleEvent": "missed"},
    ]})  # fmt: skip

    assert (change.subscription_id, change.lifecycle_event) == ("s1", None)
    assert (lifecycle.subscription_id, lifecycle.lifecycle_event) == ("s2", "missed")


@pytest.mark.parametrize(
    "body", [None, [], {"value": "x"}, {"value": [{"clientState": "c"}]}, {"value": [{"subscriptionId": 5}]}]
)
def test_anything_but_a_collection_is_malformed(body: object) -> None:
    with pytest.raises(MalformedNotification):
        parse(body)


def test_the_client_state_never_shows_in_a_repr() -> None:
    (notification,) = parse({"value": [{"subscriptionId": "s1", "clientState": "secret-value"}]})

    assert "secret-value" not in repr(notification)


def test_client_states_match_only_when_equal() -> None:
    assert client_state_matches("abc", "abc")
    assert not client_state_matches("abd", "abc")
    assert not client_state_matches("", "abc")
