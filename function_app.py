"""Azure Functions entry points. Each trigger only parses its input and delegates to a service.

- ``http_app_func``: the admin API and the console (one ASGI function covering every route: ``/api``, ``/console``);
- ``schedule_mailboxes`` (timer): fans the due-index shards out to ``mailbox-claims``;
- ``claim_mailboxes`` (queue ``mailbox-claims``): claims one page of a shard's due mailboxes, incoming or ACT,
  fans out work items;
- ``process_mailbox`` (queue ``mailbox-work``): runs the incoming cycle of each mailbox of a message.
- ``process_pushed_mailbox`` (queue ``mailbox-push``): the same, for a cycle a Graph change notification asked for.
- ``send_outgoing`` (queue ``outgoing-mail``): sends one Pending Send email, at most once;
- ``outbox_sweep`` (timer): re-enqueues emails whose message was lost, fails claims whose sender died.
- ``schedule_act`` (timer): fans the ACT due-index shards out to ``mailbox-claims`` (appointment, contact and
  task sync);
- ``process_act`` (queue ``act-work``): runs the ACT cycle of each mailbox of a message.
- ``schedule_test_and_enable`` (timer): queues scheduled Test & Enable runs and automatic re-tests;
- ``run_test_and_enable`` (queue ``test-and-enable``): tests one mailbox (a profile's test fans out here).
- ``refresh_summary`` (timer): counts the mailboxes' states for the organization summary.
- ``renew_push_subscriptions`` (timer): renews Graph change notification subscriptions, re-creates lost ones;
  Graph's notifications themselves arrive at ``/api/push/graph``, a route of the admin API (docs/push.md).
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from sync import oplog
from sync.api.app import create_app
from sync.logging_setup import quiet_sdk_loggers
from sync.mail import egress
from sync.model.fields import utcnow
from sync.operations.summary import refresh_snapshot
from sync.outgoing.messages import OutgoingWork
from sync.scheduling.batch_runner import run_each
from sync.scheduling.test_enable_queue import TestEnableWork
from sync.scheduling.work import ShardWork, WorkItem, parse_work
from sync.services import Services
from sync.settings import load_settings

settings = load_settings()  # fail at start-up, naming every bad setting
quiet_sdk_loggers(settings.sdk_log_level)
egress.configure(settings.egress_policy())  # where mail connections may go
services = Services(settings)

app = func.AsgiFunctionApp(app=create_app(settings, lambda: services.store), http_auth_level=func.AuthLevel.ANONYMOUS)

M = TypeVar("M", bound=BaseModel)


def _parsed(model: type[M], msg: func.QueueMessage, queue: str) -> M | None:
    """The queue message as ``model``; a malformed one is dropped with a log line, never retried."""
    try:
        return model.model_validate_json(msg.get_body())
    except ValidationError as exc:
        logging.error("ignoring malformed %s message %s: %s", queue, msg.id, exc)
        return None


@app.function_name(name="schedule_mailboxes")
@app.timer_trigger(schedule="%SYNC_MAILBOX_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_mailboxes(timer: func.TimerRequest) -> None:
    report = services.scheduler.fan_out()  # the claimers log what they find
    logging.debug("scheduler tick: %d shards sent to the claimers", report.shards)


@app.function_name(name="claim_mailboxes")
@app.queue_trigger(arg_name="msg", queue_name="mailbox-claims", connection="AzureWebJobsStorage")
def claim_mailboxes(msg: func.QueueMessage) -> None:
    work = _parsed(ShardWork, msg, "mailbox-claims")
    if work is None:
        return
    if work.workload == "act":
        _log_tick(f"ACT scheduler claims {work.shard}", services.act_scheduler.claim_shard(work))
    else:
        _log_tick(f"scheduler claims {work.shard}", services.scheduler.claim_shard(work))


@app.function_name(name="process_mailbox")
@app.queue_trigger(arg_name="msg", queue_name="mailbox-work", connection="AzureWebJobsStorage")
def process_mailbox(msg: func.QueueMessage) -> None:
    _incoming_cycles(msg, "mailbox-work")


@app.function_name(name="process_pushed_mailbox")
@app.queue_trigger(arg_name="msg", queue_name="mailbox-push", connection="AzureWebJobsStorage")
def process_pushed_mailbox(msg: func.QueueMessage) -> None:
    """Its own queue, so a notified cycle never waits behind the polling wave of a scheduler tick."""
    _incoming_cycles(msg, "mailbox-push")


def _incoming_cycles(msg: func.QueueMessage, queue: str) -> None:
    _each_item(msg, queue, _run_cycle, services.enqueue_work())


def _each_item(
    msg: func.QueueMessage, queue: str, run: Callable[[WorkItem], None], send_alone: Callable[[WorkItem], None]
) -> None:
    """The work items of a message (one or a batch), each run on its own; a malformed message is dropped."""
    try:
        items = parse_work(msg.get_body())
    except ValidationError as exc:
        logging.error("ignoring malformed %s message %s: %s", queue, msg.id, exc)
        return
    run_each(items, run, send_alone)


def _run_cycle(item: WorkItem) -> None:
    started = time.monotonic()
    report = services.worker.run(item)
    logging.info(oplog.mailbox_cycle_line(report, time.monotonic() - started))


@app.function_name(name="send_outgoing")
@app.queue_trigger(arg_name="msg", queue_name="outgoing-mail", connection="AzureWebJobsStorage")
def send_outgoing(msg: func.QueueMessage) -> None:
    work = _parsed(OutgoingWork, msg, "outgoing-mail")
    if work is None:
        return
    started = time.monotonic()
    report = services.outgoing_sender.handle(work)
    logging.info(oplog.send_line(report, time.monotonic() - started))


@app.function_name(name="outbox_sweep")
@app.timer_trigger(schedule="%SYNC_OUTBOX_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def outbox_sweep(timer: func.TimerRequest) -> None:
    _log_tick("outbox sweep", services.outbox_sweep.run())


@app.function_name(name="schedule_act")
@app.timer_trigger(schedule="%SYNC_ACT_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_act(timer: func.TimerRequest) -> None:
    report = services.act_scheduler.fan_out()  # the claimers log what they find
    logging.debug("ACT scheduler tick: %d shards sent to the claimers", report.shards)


@app.function_name(name="process_act")
@app.queue_trigger(arg_name="msg", queue_name="act-work", connection="AzureWebJobsStorage")
def process_act(msg: func.QueueMessage) -> None:
    _each_item(msg, "act-work", _run_act_cycle, services.enqueue_act())


def _run_act_cycle(item: WorkItem) -> None:
    started = time.monotonic()
    run = services.act_worker.run(item)
    logging.info(oplog.act_cycle_line(run, time.monotonic() - started))


@app.function_name(name="schedule_test_and_enable")
@app.timer_trigger(schedule="%SYNC_TEST_ENABLE_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_test_and_enable(timer: func.TimerRequest) -> None:
    _log_tick("Test & Enable tick", services.test_enable_scheduler.tick())


@app.function_name(name="run_test_and_enable")
@app.queue_trigger(arg_name="msg", queue_name="test-and-enable", connection="AzureWebJobsStorage")
def run_test_and_enable(msg: func.QueueMessage) -> None:
    work = _parsed(TestEnableWork, msg, "test-and-enable")
    if work is None:
        return
    outcome = services.run_queued_test(work)
    logging.info("test and enable: mailbox=%s outcome=%s", work.mailbox_id, outcome)


def _log_tick(timer: str, report: object) -> None:
    """One line for a tick that found work; an idle tick only at debug level."""
    line = oplog.tick_line(timer, report)
    if line is None:
        logging.debug("%s: nothing due", timer)
    else:
        logging.info(line)


@app.function_name(name="refresh_summary")
@app.timer_trigger(schedule="%SYNC_SUMMARY_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def refresh_summary(timer: func.TimerRequest) -> None:
    snapshot = refresh_snapshot(services.store, utcnow())
    logging.info("summary snapshot: %d mailboxes", snapshot["mailboxes"])


@app.function_name(name="renew_push_subscriptions")
@app.timer_trigger(schedule="%SYNC_PUSH_RENEW_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def renew_push_subscriptions(timer: func.TimerRequest) -> None:
    report = services.push_subscriber.renew_due()
    if report.renewed or report.created or report.removed or report.failed:
        logging.info(
            "push subscriptions: renewed=%d created=%d removed=%d failed=%d",
            report.renewed, report.created, report.removed, report.failed,
        )  # fmt: skip
