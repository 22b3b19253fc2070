"""Azure Functions entry points. Each trigger only parses its input and delegates to a service.

- ``http_app_func``: the admin API (one ASGI function covering every route under ``/api``);
- ``schedule_mailboxes`` (timer): finds due mailboxes, claims them, fans out work items;
- ``process_mailbox`` (queue ``mailbox-work``): runs one mailbox's incoming cycle.
- ``send_outgoing`` (queue ``outgoing-mail``): sends one Pending Send email, at most once;
- ``outbox_sweep`` (timer): re-enqueues emails whose message was lost, fails claims whose sender died.
- ``schedule_act`` (timer): claims the mailboxes whose appointment, contact and task sync is due;
- ``process_act`` (queue ``act-work``): runs one mailbox's ACT cycle.
"""

import logging

import azure.functions as func
from pydantic import ValidationError

from sync.api.app import create_app
from sync.logging_setup import quiet_sdk_loggers
from sync.mail import egress
from sync.outgoing.messages import OutgoingWork
from sync.scheduling.work import WorkItem
from sync.services import Services
from sync.settings import load_settings

settings = load_settings()  # fail at start-up, naming every bad setting
quiet_sdk_loggers(settings.sdk_log_level)
egress.configure(settings.egress_policy())  # where mail connections may go
services = Services(settings)

app = func.AsgiFunctionApp(app=create_app(settings, lambda: services.store), http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name(name="schedule_mailboxes")
@app.timer_trigger(schedule="%SYNC_MAILBOX_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_mailboxes(timer: func.TimerRequest) -> None:
    report = services.scheduler.tick()
    logging.info("scheduler tick: %s", report)


@app.function_name(name="process_mailbox")
@app.queue_trigger(arg_name="msg", queue_name="mailbox-work", connection="AzureWebJobsStorage")
def process_mailbox(msg: func.QueueMessage) -> None:
    try:
        item = WorkItem.model_validate_json(msg.get_body())
    except ValidationError as exc:  # a malformed message is dropped with a log line, never retried
        logging.error("ignoring malformed mailbox-work message %s: %s", msg.id, exc)
        return
    report = services.worker.run(item)
    logging.info("mailbox cycle: %s", report)


@app.function_name(name="send_outgoing")
@app.queue_trigger(arg_name="msg", queue_name="outgoing-mail", connection="AzureWebJobsStorage")
def send_outgoing(msg: func.QueueMessage) -> None:
    try:
        work = OutgoingWork.model_validate_json(msg.get_body())
    except ValidationError as exc:  # a malformed message is dropped with a log line, never retried
        logging.error("ignoring malformed outgoing-mail message %s: %s", msg.id, exc)
        return
    report = services.outgoing_sender.handle(work)
    logging.info("outgoing email: %s", report)


@app.function_name(name="outbox_sweep")
@app.timer_trigger(schedule="%SYNC_OUTBOX_SWEEP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def outbox_sweep(timer: func.TimerRequest) -> None:
    report = services.outbox_sweep.run()
    logging.info("outbox sweep: %s", report)


@app.function_name(name="schedule_act")
@app.timer_trigger(schedule="%SYNC_ACT_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
def schedule_act(timer: func.TimerRequest) -> None:
    report = services.act_scheduler.tick()
    logging.info("ACT tick: %s", report)


@app.function_name(name="process_act")
@app.queue_trigger(arg_name="msg", queue_name="act-work", connection="AzureWebJobsStorage")
def process_act(msg: func.QueueMessage) -> None:
    try:
        item = WorkItem.model_validate_json(msg.get_body())
    except ValidationError as exc:  # a malformed message is dropped with a log line, never retried
        logging.error("ignoring malformed act-work message %s: %s", msg.id, exc)
        return
    run = services.act_worker.run(item)
    logging.info("ACT cycle: %s", run)
