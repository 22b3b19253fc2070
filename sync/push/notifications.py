"""What Graph POSTs to the notification endpoint, parsed, and the clientState check — pure.

A change notification collection is ``{"value": [...]}``; each item names its ``subscriptionId`` and carries
the ``clientState`` we gave the subscription. A lifecycle notification has a ``lifecycleEvent`` instead of a
``changeType``: ``reauthorizationRequired`` (renew), ``subscriptionRemoved`` (create it again) or ``missed``
(notifications were lost: run a full cycle). Anything else in an item is ignored: we never read resource data
from a notification, we only learn that a mailbox has work.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
SUBSCRIPTION_REMOVED = "subscriptionRemoved"
MISSED = "missed"
LIFECYCLE_EVENTS = frozenset({REAUTHORIZATION_REQUIRED, SUBSCRIPTION_REMOVED, MISSED})
MAX_ITEMS = 1000  # Graph batches notifications; more than this in one POST is not Graph


class MalformedNotification(ValueError):
    """The body is not a notification collection."""


@dataclass(frozen=True)
class Notification:
    subscription_id: str
    client_state: str
    lifecycle_event: str | None  # None: a change notification

    def __repr__(self) -> str:  # the client state is a secret: never in a log line or a traceback
        return f"Notification(subscription_id={self.subscription_id!r}, lifecycle_event={self.lifecycle_event!r})"


def parse(body: Any) -> list[Notification]:
    """The notifications of a collection; MalformedNotification when it is not one."""
    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise MalformedNotification("expected a JSON object with a 'value' list of notifications")
    found = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
            raise MalformedNotification("each notification needs a subscriptionId")
        event = item.get("lifecycleEvent")
        found.append(
            Notification(
                subscription_id=item["subscriptionId"],
                client_state=str(item.get("clientState") or ""),
                lifecycle_event=str(event) if isinstance(event, str) and event else None,
            )
        )
    return found


def client_state_matches(received: str, expected: str) -> bool:
    """Constant time: a forger learns nothing from how long the refusal took."""
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))
