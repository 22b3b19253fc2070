"""The notification endpoint's service: authenticate each notification, then wake its mailbox (docs/push.md).

Per notification: two point reads find the subscription's record (index row, then record), its sealed
clientState is opened and compared in constant time with the one received. A mismatch is refused and logged
with the subscription id only, never the value. An accepted change notification (or a ``missed`` event)
wakes the mailbox's workload (:mod:`sync.push.wake`), once per mailbox and workload per request however many
notifications name it; ``reauthorizationRequired`` renews the subscription, ``subscriptionRemoved`` makes a
new one. No mail is read here.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync.errors import SecretError
from sync.model.fields import utcnow
from sync.push.notifications import (
    REAUTHORIZATION_REQUIRED,
    SUBSCRIPTION_REMOVED,
    Notification,
    client_state_matches,
    parse,
)
from sync.push.subscriber import PushSubscriber, workload_of
from sync.push.wake import Waker
from sync.store.push_subscriptions import PushSubscription
from sync.store.store import Store

log = logging.getLogger(__name__)


@dataclass
class ReceiveReport:
    accepted: int = 0
    refused: int = 0  # unknown subscription or a clientState that does not match
    duplicates: int = 0  # same mailbox and workload as an earlier notification of the request
    outcomes: Counter[str] = field(default_factory=Counter)  # wake outcomes, lifecycle actions

    @property
    def all_refused(self) -> bool:
        return self.refused > 0 and self.accepted == 0


class PushReceiver:
    def __init__(
        self, store: Store, subscriber: PushSubscriber, waker: Waker, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.subscriber = subscriber
        self.waker = waker
        self.clock = clock

    def receive(self, body: Any) -> ReceiveReport:
        """Handle one POST's notifications; MalformedNotification when the body is not a collection."""
        report = ReceiveReport()
        woken: set[tuple[str, str]] = set()
        records: dict[str, PushSubscription | None] = {}
        for notification in parse(body):
            if notification.subscription_id not in records:
                records[notification.subscription_id] = self._record(notification.subscription_id)
            record = records[notification.subscription_id]
            if record is None or not self._authentic(notification, record):
                report.refused += 1
                continue
            report.accepted += 1
            self._handle(notification, record, woken, report)
        return report

    def _record(self, subscription_id: str) -> PushSubscription | None:
        entry = self.store.push_subscriptions.lookup(subscription_id)
        if entry is None:
            return None
        record = self.store.push_subscriptions.find(entry.mailbox_id, entry.kind)
        return record if record is not None and record.subscription_id == subscription_id else None

    def _authentic(self, notification: Notification, record: PushSubscription) -> bool:
        try:
            expected = self.subscriber.client_state(record)
        except SecretError:
            expected = None
        if expected is None or not client_state_matches(notification.client_state, expected):
            log.warning(
                "refused a notification for push subscription %s: its clientState does not match",
                notification.subscription_id,
            )
            return False
        return True

    def _handle(
        self, notification: Notification, record: PushSubscription, woken: set[tuple[str, str]],
        report: ReceiveReport,
    ) -> None:  # fmt: skip
        event = notification.lifecycle_event
        if event == REAUTHORIZATION_REQUIRED:
            self.subscriber.renew(record)
            report.outcomes["renewed"] += 1
            return
        if event == SUBSCRIPTION_REMOVED:
            self.subscriber.recreate(record)
            report.outcomes["recreated"] += 1
            return
        key = (record.mailbox_id, workload_of(record.kind))  # a change, or "missed": a cycle reads everything
        if key in woken:
            report.duplicates += 1
            return
        woken.add(key)
        report.outcomes[self.waker.wake(key[0], key[1], self.clock())] += 1
