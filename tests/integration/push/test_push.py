"""Graph change notifications end to end: subscribed at Test & Enable, a message arrives, Graph POSTs, the
mailbox is processed by the worker at once; and when notifications are lost, duplicated, late, forged, or the
subscription needs renewal or is lifecycle-managed by Graph."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import requests

from sync.model.fields import utcnow
from sync.model.options import ActDeliveryMethod, TestStatus
from sync.push.subscriber import PushSubscriber
from sync.store.due_index import parse_row_key
from tests.integration.exchange.conftest import message
from tests.integration.push.conftest import PushWorld

pytestmark = pytest.mark.integration

WORKER = "process_pushed_mailbox"  # notified cycles have their own queue, mailbox-push


def test_test_and_enable_subscribes_the_mailbox_with_a_sealed_secret(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()

    subscription = push.subscription()
    record = push.record(mailbox)
    assert subscription.notification_url == push.url
    assert subscription.lifecycle_url == push.url + "/lifecycle"
    assert subscription.change_type == "created"
    assert record.subscription_id == subscription.id
    assert subscription.client_state and subscription.client_state not in record.client_state  # sealed at rest
    assert push.context.push_subscriber.client_state(record) == subscription.client_state


def test_a_new_message_is_processed_at_once_through_its_notification(push: PushWorld) -> None:
    push.enabled_mailbox()
    raw, message_id = message(push.address)

    push.graph.deliver(push.address, raw)

    assert push.deliveries() == [202]
    assert push.drain()[WORKER] == 1  # no timer fired: the notification queued the cycle
    assert len(push.deployment.emails(message_id)) == 1


def test_a_duplicated_notification_costs_one_cycle(push: PushWorld) -> None:
    push.enabled_mailbox()
    push.graph.notifier.duplicate_next()
    raw, message_id = message(push.address)

    push.graph.deliver(push.address, raw)

    assert push.deliveries() == [202, 202]
    assert push.drain()[WORKER] == 1
    assert len(push.deployment.emails(message_id)) == 1


def test_a_lost_notification_is_made_up_for_by_polling(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    push.graph.notifier.lose_next()
    raw, message_id = message(push.address)

    push.graph.deliver(push.address, raw)
    assert push.drain()[WORKER] == 0
    assert push.deployment.emails(message_id) == []
    push.poll(mailbox)

    assert len(push.deployment.emails(message_id)) == 1


def test_a_late_notification_after_polling_tracked_the_message_changes_nothing(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    push.graph.notifier.hold()
    raw, message_id = message(push.address)
    push.graph.deliver(push.address, raw)
    push.poll(mailbox)
    assert len(push.deployment.emails(message_id)) == 1

    late = push.graph.notifier.release()

    assert [d.status for d in late] == [202]
    assert push.drain()[WORKER] == 1  # one more cycle, which finds nothing new
    assert len(push.deployment.emails(message_id)) == 1


def test_a_late_notification_still_wakes_the_mailbox(push: PushWorld) -> None:
    push.enabled_mailbox()
    push.graph.notifier.hold()
    raw, message_id = message(push.address)
    push.graph.deliver(push.address, raw)
    assert push.drain()[WORKER] == 0

    push.graph.notifier.release()

    assert push.drain()[WORKER] == 1
    assert len(push.deployment.emails(message_id)) == 1


def test_the_timer_renews_a_subscription_well_before_it_expires(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    first = push.subscription()
    later = utcnow() + timedelta(days=6)  # under two days of the seven left
    ctx = push.context
    timer = PushSubscriber(ctx.store, ctx.box, ctx.graph, push.url, clock=lambda: later)

    report = timer.renew_due()

    assert report.renewed >= 1 and report.failed == 0  # every subscription of the module's mailboxes
    renewed = push.subscription()
    assert renewed.id == first.id and renewed.expires > first.expires + timedelta(days=5)
    assert push.record(mailbox).expires_on == renewed.expires


def test_the_timer_creates_again_a_subscription_graph_lost(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    lost = push.subscription()
    push.graph.notifier.delete(lost.id)  # Graph forgot it: the renewal gets 404
    later = utcnow() + timedelta(days=6)
    ctx = push.context
    timer = PushSubscriber(ctx.store, ctx.box, ctx.graph, push.url, clock=lambda: later)

    report = timer.renew_due()

    assert report.created == 1 and report.failed == 0  # the others were renewed
    fresh = push.subscription()
    assert fresh.id != lost.id and push.record(mailbox).subscription_id == fresh.id
    assert push.store.push_subscriptions.lookup(lost.id) is None
    raw, message_id = message(push.address)
    push.graph.deliver(push.address, raw)
    assert push.drain()[WORKER] == 1
    assert len(push.deployment.emails(message_id)) == 1


def test_reauthorization_required_renews_the_subscription(push: PushWorld) -> None:
    push.enabled_mailbox()
    subscription = push.subscription()
    push.graph.reset_calls()

    answers = push.graph.notifier.lifecycle(subscription.id, "reauthorizationRequired")

    assert [d.status for d in answers] == [202]
    assert answers[0].url == push.url + "/lifecycle"
    assert push.graph.calls["subscription.update"] == 1
    assert push.drain()[WORKER] == 0  # a lifecycle event is no mail


def test_subscription_removed_creates_a_new_subscription(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    removed = push.subscription()

    answers = push.graph.notifier.lifecycle(removed.id, "subscriptionRemoved", forget=True)

    assert [d.status for d in answers] == [202]
    fresh = push.subscription()
    assert fresh.id != removed.id and push.record(mailbox).subscription_id == fresh.id
    assert push.store.get_mailbox(mailbox.id).push_subscribed_until == fresh.expires
    raw, message_id = message(push.address)
    push.graph.deliver(push.address, raw)
    assert push.drain()[WORKER] == 1
    assert len(push.deployment.emails(message_id)) == 1


def test_missed_notifications_queue_a_full_cycle(push: PushWorld) -> None:
    push.enabled_mailbox()
    push.graph.notifier.lose_next()
    raw, message_id = message(push.address)
    push.graph.deliver(push.address, raw)

    answers = push.graph.notifier.lifecycle(push.subscription().id, "missed")

    assert [d.status for d in answers] == [202]
    assert push.drain()[WORKER] == 1
    assert len(push.deployment.emails(message_id)) == 1


def test_a_forged_client_state_is_refused_and_never_logged(push: PushWorld, caplog: pytest.LogCaptureFixture) -> None:
    push.enabled_mailbox()
    forged = "forged-client-state-7f3a"
    body = {"value": [{"subscriptionId": push.subscription().id, "clientState": forged, "changeType": "created"}]}

    with caplog.at_level(logging.DEBUG):
        answer = push.graph.notifier.post(push.url, body)

    assert answer.status == 403
    assert push.drain()[WORKER] == 0
    assert "clientState does not match" in caplog.text
    assert forged not in caplog.text
    assert push.subscription().client_state not in caplog.text


def test_an_unknown_subscription_is_refused(push: PushWorld) -> None:
    push.enabled_mailbox()
    body = {"value": [{"subscriptionId": "not-ours", "clientState": push.subscription().client_state}]}

    assert push.graph.notifier.post(push.url, body).status == 403
    assert push.drain()[WORKER] == 0


def test_only_the_push_paths_are_open_and_they_answer_the_handshake(push: PushWorld) -> None:
    echoed = requests.post(push.url, params={"validationToken": "a b&c"}, timeout=10)
    assert echoed.status_code == 200 and echoed.text == "a b&c"
    assert echoed.headers["content-type"].startswith("text/plain")
    base = push.url.removesuffix("/push/graph")
    assert requests.get(f"{base}/mailboxes", timeout=10).status_code == 401
    assert requests.post(push.url, data=b"not json", timeout=10).status_code == 400


def test_a_burst_before_the_cycle_starts_costs_one_cycle_and_no_early_next_one(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    first, first_id = message(push.address, subject="first")
    second, second_id = message(push.address, subject="second")
    push.graph.deliver(push.address, first)  # claims the mailbox and queues its cycle
    push.graph.deliver(push.address, second)  # finds it claimed: marks it

    assert push.drain()[WORKER] == 1
    after = push.store.get_mailbox(mailbox.id)

    assert len(push.deployment.emails(first_id)) == 1 and len(push.deployment.emails(second_id)) == 1
    assert after.push_pending_on is None  # the cycle began after the mark: it read both
    assert parse_row_key(after.due_row_key or "").due_on > utcnow() + timedelta(seconds=30)  # no cycle at once


def test_a_notification_during_a_running_cycle_queues_the_next_cycle_when_it_ends(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    raw, _ = message(push.address)
    push.graph.deliver(push.address, raw)  # the cycle is queued
    during = utcnow() + timedelta(minutes=5)  # a notification that comes after that cycle began

    assert push.context.push_receiver.waker.wake(mailbox.id, "incoming", during) == "running"
    assert push.store.get_mailbox(mailbox.id).push_pending_on == during
    handled = push.drain()

    assert handled[WORKER] == 2  # the cycle, then at its end the one the late notification asked for
    assert handled["process_mailbox"] == 0
    assert push.store.get_mailbox(mailbox.id).push_pending_on is None


def test_a_subscribed_mailbox_is_polled_at_the_idle_cadence_only(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox()
    assert mailbox.push_subscribed_until == push.subscription().expires
    raw, _ = message(push.address)
    push.graph.deliver(push.address, raw)

    assert push.drain()[WORKER] == 1
    due = parse_row_key(push.store.get_mailbox(mailbox.id).due_row_key or "").due_on
    idle = timedelta(minutes=push.deployment.settings.poll_idle_max_minutes)
    assert due > utcnow() + idle - timedelta(minutes=1)  # not the busy minute after mail: notifications bring it


def test_act_resources_are_subscribed_and_an_outlook_change_queues_the_act_cycle(push: PushWorld) -> None:
    mailbox = push.enabled_mailbox(act_method=ActDeliveryMethod.SERVER_SIDE_SYNC)
    assert mailbox.act_status is TestStatus.SUCCESS

    kinds = sorted(s.kind for s in push.graph.notifier.subscriptions(push.address))
    assert kinds == ["contacts", "events", "messages", "tasks"]
    assert push.subscription("events").change_type == "created,updated,deleted"
    start = utcnow() + timedelta(days=1)

    push.graph.add_event(push.address, "Planning", start, start + timedelta(hours=1))

    assert push.deliveries() == [202]
    handled = push.drain()
    assert handled["process_act"] == 1 and handled[WORKER] == 0
    assert push.store.get_mailbox(mailbox.id).act_host_id is None  # the ACT cycle ran and released its lease
