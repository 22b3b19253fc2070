"""Change notifications as Graph delivers them: subscriptions, the validation handshake, real POSTs over HTTP.

``POST /subscriptions`` first validates the notification URL (and the lifecycle URL) the way Graph does: a
POST with ``?validationToken=<token>`` that must answer 200 with the token as text/plain within 10 seconds;
only then is the subscription created (else 400 ``ValidationError``). Afterwards each change a test makes
through the server's methods (``deliver``, ``add_event``...) POSTs a ``changeNotificationCollection`` to the
subscription's URL, in the test's own thread, before the method returns: the endpoint's answer is in hand
when the test goes on, so nothing waits on a timer.

Faults a test arms: lose the next notifications, duplicate them, or hold every notification until
:meth:`Notifier.release` (a late delivery, with no sleep). Lifecycle events (``reauthorizationRequired``,
``subscriptionRemoved``, ``missed``) are sent on request; ``remove`` forgets a subscription as Graph does
before it says ``subscriptionRemoved``. Changes our own client makes through the API are not notified (Graph
would): the tests are about mail arriving from outside.
"""

from __future__ import annotations

import datetime
import json
import re
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from tests.graph.api import ApiError, Context, Reply, Request

VALIDATION_TIMEOUT_S = 10.0  # Graph's limit for the handshake's answer
POST_TIMEOUT_S = 30.0
TENANT_ID = "00000000-0000-0000-0000-00000000c0de"
RESOURCE = re.compile(r"^/?users/(?P<user>[^/]+)/(?P<kind>messages|events|contacts|todo/lists/[^/]+/tasks)$", re.I)


@dataclass(frozen=True)
class Subscription:
    id: str
    resource: str
    change_type: str
    notification_url: str
    lifecycle_url: str | None
    client_state: str
    expires: datetime.datetime
    user: str
    kind: str  # messages | events | contacts | tasks


@dataclass(frozen=True)
class Delivery:
    """One POST made to the app: where, what, and the status it answered."""

    url: str
    body: Mapping[str, Any]
    status: int


@dataclass
class _Modes:
    lose: int = 0
    duplicate: int = 0
    hold: bool = False
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _parse_time(value: Any) -> datetime.datetime:
    if not isinstance(value, str):
        raise ApiError(400, "InvalidRequest", "expirationDateTime is required.")
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "InvalidRequest", f"expirationDateTime {value!r} is not a date.") from None


def _render(subscription: Subscription) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "resource": subscription.resource,
        "changeType": subscription.change_type,
        "notificationUrl": subscription.notification_url,
        "lifecycleNotificationUrl": subscription.lifecycle_url,
        "expirationDateTime": subscription.expires.isoformat().replace("+00:00", "Z"),
        "clientState": None,  # Graph does not echo it back
        "applicationId": "00000000-0000-0000-0000-0000000a9900",
    }


class Notifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._modes = _Modes()
        self._http = requests.Session()
        self._http.trust_env = False
        self.deliveries: list[Delivery] = []

    # --- the routes ----------------------------------------------------------------------------------------
    def create(self, body: Mapping[str, Any]) -> Subscription:
        found = RESOURCE.match(str(body.get("resource") or ""))
        if found is None:
            raise ApiError(400, "InvalidRequest", f"Resource {body.get('resource')!r} is not supported.")
        url = str(body.get("notificationUrl") or "")
        lifecycle = body.get("lifecycleNotificationUrl")
        for target in (url, lifecycle):
            if target and not self._validated(str(target)):
                raise ApiError(400, "ValidationError", f"Subscription validation request failed for {target}.")
        kind = found.group("kind").lower()
        subscription = Subscription(
            id=str(uuid.uuid4()),
            resource=str(body["resource"]),
            change_type=str(body.get("changeType") or ""),
            notification_url=url,
            lifecycle_url=str(lifecycle) if lifecycle else None,
            client_state=str(body.get("clientState") or ""),
            expires=_parse_time(body.get("expirationDateTime")),
            user=found.group("user").lower(),
            kind="tasks" if kind.endswith("tasks") else kind,
        )
        with self._lock:
            self._subscriptions[subscription.id] = subscription
        return subscription

    def renew(self, subscription_id: str, body: Mapping[str, Any]) -> Subscription:
        with self._lock:
            found = self._subscriptions.get(subscription_id)
            if found is None:
                raise ApiError(404, "ResourceNotFound", f"The object '{subscription_id}' doesn't exist.")
            renewed = replace(found, expires=_parse_time(body.get("expirationDateTime")))
            self._subscriptions[subscription_id] = renewed
        return renewed

    def delete(self, subscription_id: str) -> None:
        with self._lock:
            if self._subscriptions.pop(subscription_id, None) is None:
                raise ApiError(404, "ResourceNotFound", f"The object '{subscription_id}' doesn't exist.")

    # --- what tests look at --------------------------------------------------------------------------------
    def subscriptions(self, user: str | None = None) -> list[Subscription]:
        with self._lock:
            return [s for s in self._subscriptions.values() if user is None or s.user == user.lower()]

    # --- faults --------------------------------------------------------------------------------------------
    def lose_next(self, count: int = 1) -> None:
        with self._lock:
            self._modes.lose += count

    def duplicate_next(self, count: int = 1) -> None:
        with self._lock:
            self._modes.duplicate += count

    def hold(self) -> None:
        """Keep every notification from now on until :meth:`release`."""
        with self._lock:
            self._modes.hold = True

    def release(self) -> list[Delivery]:
        """Deliver what was held, in order, and stop holding."""
        with self._lock:
            held, self._modes.held, self._modes.hold = self._modes.held, [], False
        return [self._post(url, body) for url, body in held]

    # --- changes and lifecycle events ---------------------------------------------------------------------
    def changed(self, user: str, kind: str, item_id: str, change_type: str = "created") -> list[Delivery]:
        """Notify every subscription of ``user``'s ``kind`` that wants ``change_type``."""
        done = []
        for subscription in self.subscriptions(user):
            if subscription.kind != kind or change_type not in subscription.change_type.split(","):
                continue
            item = {
                "subscriptionId": subscription.id,
                "subscriptionExpirationDateTime": subscription.expires.isoformat().replace("+00:00", "Z"),
                "changeType": change_type,
                "resource": f"Users/{user}/{kind.capitalize()}/{item_id}",
                "resourceData": {"@odata.type": f"#Microsoft.Graph.{kind[:-1].capitalize()}", "id": item_id},
                "clientState": subscription.client_state,
                "tenantId": TENANT_ID,
            }
            done += self._send(subscription.notification_url, {"value": [item]})
        return done

    def lifecycle(self, subscription_id: str, event: str, *, forget: bool = False) -> list[Delivery]:
        """Send ``event`` for the subscription; ``forget`` drops it first (``subscriptionRemoved``)."""
        with self._lock:
            subscription = self._subscriptions[subscription_id]
            if forget:
                del self._subscriptions[subscription_id]
        item = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": subscription.expires.isoformat().replace("+00:00", "Z"),
            "tenantId": TENANT_ID,
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }
        return self._send(subscription.lifecycle_url or subscription.notification_url, {"value": [item]})

    def post(self, url: str, body: Mapping[str, Any]) -> Delivery:
        """A POST of any body to the app (what a forger would send)."""
        return self._post(url, dict(body))

    # --- HTTP ----------------------------------------------------------------------------------------------
    def _send(self, url: str, body: dict[str, Any]) -> list[Delivery]:
        with self._lock:
            if self._modes.lose > 0:
                self._modes.lose -= 1
                return []
            copies = 1
            if self._modes.duplicate > 0:
                self._modes.duplicate -= 1
                copies = 2
            if self._modes.hold:
                self._modes.held += [(url, body)] * copies
                return []
        return [self._post(url, body) for _ in range(copies)]

    def _post(self, url: str, body: dict[str, Any]) -> Delivery:
        response = self._http.post(url, json=body, timeout=POST_TIMEOUT_S)
        delivery = Delivery(url, body, response.status_code)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _validated(self, url: str) -> bool:
        token = secrets.token_urlsafe(24)
        try:
            response = self._http.post(
                url, params={"validationToken": token}, data=b"", headers={"Content-Type": "text/plain"},
                timeout=VALIDATION_TIMEOUT_S,
            )  # fmt: skip
        except requests.RequestException:
            return False
        return (
            response.status_code == 200
            and response.text == token
            and response.headers.get("content-type", "").startswith("text/plain")
        )


# --- route handlers ------------------------------------------------------------------------------------------
def _notifier(ctx: Context) -> Notifier:
    if ctx.notifier is None:
        raise ApiError(400, "BadRequest", "this server has no change notifications")
    return ctx.notifier


def create(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    return Reply.of_json(201, _render(_notifier(ctx).create(req.json())))


def update(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    return Reply.of_json(200, _render(_notifier(ctx).renew(params["subscription"], req.json())))


def delete(ctx: Context, req: Request, params: Mapping[str, str]) -> Reply:
    _notifier(ctx).delete(params["subscription"])
    return Reply(204)


def body_of(delivery: Delivery) -> str:
    """A delivery's body as JSON text (for asserting what was, or was not, sent)."""
    return json.dumps(delivery.body)
