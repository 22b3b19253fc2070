"""Graph change notification subscriptions on the wire: create, renew, delete (docs/push.md).

A subscription asks Graph to POST to ``notificationUrl`` when a resource of a mailbox changes, and lifecycle
events (``reauthorizationRequired``, ``subscriptionRemoved``, ``missed``) to ``lifecycleNotificationUrl``.
Graph validates both URLs when the subscription is created (it POSTs ``?validationToken=...`` and wants the
token echoed within 10 s), so creation succeeds only when the endpoint is reachable from Graph.

Longest lifetimes (Graph's subscription resource type, "Maximum length of subscription per resource type"):
Outlook messages, events and contacts 10,080 minutes (under 7 days); To Do tasks 4,230 minutes (under 3 days).
We ask for a little less, and the renewal timer renews once half of that has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sync.mail.errors import PermanentMailError
from sync.mail.graph.client import GraphClient

OUTLOOK_MAX = timedelta(minutes=10_080)
TODO_MAX = timedelta(minutes=4_230)
LIFETIME_MARGIN = timedelta(minutes=30)  # ask for less than the maximum: clocks differ, Graph rounds

MAIL, EVENTS, CONTACTS, TASKS = "mail", "events", "contacts", "tasks"
CHANGE_TYPES = {  # mail: a new message is what starts a cycle; ACT also wants edits and deletions
    MAIL: "created",
    EVENTS: "created,updated,deleted",
    CONTACTS: "created,updated,deleted",
    TASKS: "created,updated,deleted",
}


def lifetime(kind: str) -> timedelta:
    """How long a subscription of ``kind`` is asked to live."""
    return (TODO_MAX if kind == TASKS else OUTLOOK_MAX) - LIFETIME_MARGIN


def resource(kind: str, address: str, task_list: str | None = None) -> str:
    """The resource path Graph watches for ``kind`` (``task_list``: the default To Do list's id)."""
    user = f"users/{quote(address, safe='@')}"
    if kind == MAIL:
        return f"{user}/messages"  # every folder: tracked folders below the Inbox too
    if kind == TASKS:
        if task_list is None:
            raise ValueError("a To Do subscription needs the task list's id")
        return f"{user}/todo/lists/{quote(task_list, safe='')}/tasks"
    return f"{user}/{kind}"


@dataclass(frozen=True)
class Created:
    subscription_id: str
    expires_on: datetime


class SubscriptionGone(PermanentMailError):
    """Graph no longer knows the subscription (a renewal answered 4xx): it must be created again."""

    code = "SubscriptionGone"


def _when(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return fallback


class GraphSubscriptions:
    """The three subscription calls, through the shared thin client (typed errors, no sleeping)."""

    def __init__(self, client: GraphClient) -> None:
        self.client = client

    def create(
        self, kind: str, resource_path: str, *, notification_url: str, lifecycle_url: str, client_state: str,
        now: datetime,
    ) -> Created:  # fmt: skip
        expires = now + lifetime(kind)
        body = {
            "changeType": CHANGE_TYPES[kind],
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": resource_path,
            "expirationDateTime": expires.isoformat().replace("+00:00", "Z"),
            "clientState": client_state,
        }
        answer = self.client.post("/subscriptions", body) or {}
        return Created(str(answer["id"]), _when(answer.get("expirationDateTime"), expires))

    def renew(self, kind: str, subscription_id: str, now: datetime) -> datetime:
        """The new expiry; :class:`SubscriptionGone` when Graph refuses (404: it removed the subscription)."""
        expires = now + lifetime(kind)
        body = {"expirationDateTime": expires.isoformat().replace("+00:00", "Z")}
        try:
            answer = self.client.patch(f"/subscriptions/{quote(subscription_id, safe='')}", body)
        except SubscriptionGone:
            raise
        except PermanentMailError as exc:
            raise SubscriptionGone(str(exc)) from exc
        return _when(answer.get("expirationDateTime"), expires)

    def delete(self, subscription_id: str) -> None:
        """Stop notifications; a subscription Graph already forgot is deleted too."""
        try:
            self.client.delete(f"/subscriptions/{quote(subscription_id, safe='')}")
        except PermanentMailError:
            return


def default_task_list(client: GraphClient, address: str) -> str | None:
    """The id of the mailbox's default To Do list (Outlook's Tasks folder), None when it has none."""
    lists = client.get(f"/users/{quote(address, safe='@')}/todo/lists").get("value") or []
    default = next((t for t in lists if t.get("wellknownListName") == "defaultList"), None)
    return str(default["id"]) if default else None
