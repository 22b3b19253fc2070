"""The Functions app: metadata read through get_functions(), the ASGI handler called as the host would."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
import uuid
from datetime import timedelta
from types import ModuleType

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest
from fastapi.testclient import TestClient

from sync.api.app import create_app
from sync.errors import ConfigurationError
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef, utcnow
from sync.model.options import EmailAddressApproval, EntityType, ServerType
from sync.scheduling.scheduler import schedule_now
from sync.scheduling.work import ShardWork, WorkBatch, WorkItem, parse_work
from sync.settings import Settings, load_settings, setting_names
from sync.store import Store
from sync.store.names import Queue
from tests.integration.scheduling.mailboxes import act_due_mailbox

pytestmark = pytest.mark.integration


@pytest.fixture
def function_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    assert settings.storage_connection_string is not None
    monkeypatch.setenv("AzureWebJobsStorage", settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", settings.storage_prefix)
    monkeypatch.setenv("SYNC_ALLOW_LOOPBACK_MAIL_HOSTS", "true")  # the test servers listen on 127.0.0.1
    sys.modules.pop("function_app", None)
    return importlib.import_module("function_app")


def test_the_app_registers_the_http_api(function_app: ModuleType) -> None:
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    assert "http_app_func" in functions
    trigger = functions["http_app_func"].get_trigger()
    assert trigger.get_dict_repr()["route"] == "/{*route}"


def test_health_through_the_functions_handler(function_app: ModuleType) -> None:
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    handler = functions["http_app_func"].get_user_function()
    request = func.HttpRequest(method="GET", url="http://localhost:7071/api/health", body=b"", headers={})

    class Context:
        invocation_id = "test"
        function_name = "http_app_func"
        function_directory = "."
        trace_context = None
        retry_context = None

    response = asyncio.run(handler(request, Context()))
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"status": "ok", "storage": "ok"}


def test_health_reports_unreachable_storage() -> None:
    dead = load_settings(
        storage_connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
        ),
        secret_encryption_key="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )
    client = TestClient(create_app(dead))
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["storage"] == "unreachable"


def test_openapi_docs_are_served(settings: Settings) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/api/docs").status_code == 200
    assert "/api/health" in client.get("/api/openapi.json").json()["paths"]


def test_start_up_fails_clearly_without_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for names in setting_names().values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    sys.modules.pop("function_app", None)
    with pytest.raises(ConfigurationError, match="SYNC_SECRET_ENCRYPTION_KEY"):
        importlib.import_module("function_app")


def test_host_json_timeout_matches_the_settings_default() -> None:
    with open("host.json") as fh:
        host = json.load(fh)
    hours, minutes, seconds = (int(p) for p in host["functionTimeout"].split(":"))
    assert hours * 3600 + minutes * 60 + seconds == Settings.model_fields["function_timeout_seconds"].default
    assert host["extensions"]["queues"]["messageEncoding"] == "base64"


def test_the_summary_timer_saves_the_mailbox_states(function_app: ModuleType) -> None:
    functions = {f.get_function_name(): f for f in function_app.app.get_functions()}
    timer = functions["refresh_summary"].get_trigger().get_dict_repr()
    assert timer["schedule"] == "%SYNC_SUMMARY_SCHEDULE%"
    store = function_app.services.store
    store.account.ensure_created()
    functions["refresh_summary"].get_user_function()(TimerRequest(past_due=False))
    snapshot = store.sync_totals.snapshot()
    assert snapshot is not None and set(snapshot["states"]) == {"incoming", "outgoing", "act"}
    assert snapshot["mailboxes"] == len(list(store.mailboxes.query()))


@pytest.fixture
def own_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The app on storage of its own: its scheduler must find only this test's mailboxes due."""
    assert settings.storage_connection_string is not None
    monkeypatch.setenv("AzureWebJobsStorage", settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", "fa" + uuid.uuid4().hex[:8])
    sys.modules.pop("function_app", None)
    module = importlib.import_module("function_app")
    module.services.store.account.ensure_created()
    return module


def test_the_timer_fans_out_and_the_claims_trigger_claims(own_app: ModuleType) -> None:
    """Timer -> one mailbox-claims message per shard -> claim_mailboxes -> the work on mailbox-work."""
    functions = {f.get_function_name(): f for f in own_app.app.get_functions()}
    trigger = functions["claim_mailboxes"].get_trigger().get_dict_repr()
    assert (trigger["type"], trigger["queueName"]) == ("queueTrigger", "mailbox-claims")
    store = own_app.services.store
    profile = store.profiles.insert(EmailServerProfile(name="IMAP", server_type=ServerType.IMAP_SMTP))
    due = [_approved_mailbox(store, profile) for _ in range(3)]
    functions["schedule_mailboxes"].get_user_function()(TimerRequest(past_due=False))
    claims = store.account.queue(Queue.MAILBOX_CLAIMS)
    messages = list(claims.receive_messages(max_messages=32))
    assert len(messages) == 16
    for message in messages:
        functions["claim_mailboxes"].get_user_function()(
            func.QueueMessage(id=message.id, body=message.content.encode())
        )
    work = store.account.queue(Queue.MAILBOX_WORK).receive_messages(max_messages=32)
    items = [item for message in work for item in parse_work(message.content)]
    assert sorted(i.mailbox_id for i in items) == sorted(m.id for m in due)
    assert all(store.get_mailbox(i.mailbox_id).host_id == i.lease_id for i in items)


def test_a_work_message_of_several_mailboxes_runs_each(own_app: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    functions = {f.get_function_name(): f for f in own_app.app.get_functions()}
    batch = WorkBatch(items=[WorkItem(mailbox_id=str(uuid.uuid4()), lease_id=str(uuid.uuid4())) for _ in range(3)])
    functions["process_mailbox"].get_user_function()(func.QueueMessage(id="b1", body=batch.model_dump_json().encode()))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("mailbox cycle:")]
    assert sorted(line.split()[2] for line in lines) == sorted(f"mailbox={i.mailbox_id}" for i in batch.items)
    assert all("status=stale" in line for line in lines)


def test_the_act_timer_fans_out_through_the_claims_trigger(own_app: ModuleType) -> None:
    """ACT timer -> 16 ``act`` messages on mailbox-claims -> claim_mailboxes -> the ACT work on act-work, batched."""
    functions = {f.get_function_name(): f for f in own_app.app.get_functions()}
    store = own_app.services.store
    profile = store.profiles.insert(EmailServerProfile(name="Exchange", server_type=ServerType.EXCHANGE_SERVER))
    due = [act_due_mailbox(store, profile, utcnow() - timedelta(minutes=1), with_ticket=n % 2 == 0) for n in range(20)]
    functions["schedule_act"].get_user_function()(TimerRequest(past_due=False))
    claims = store.account.queue(Queue.MAILBOX_CLAIMS)
    messages = list(claims.receive_messages(max_messages=32))
    assert len(messages) == 16 and {ShardWork.model_validate_json(m.content).workload for m in messages} == {"act"}
    for message in messages:
        functions["claim_mailboxes"].get_user_function()(
            func.QueueMessage(id=message.id, body=message.content.encode())
        )
    assert list(store.account.queue(Queue.MAILBOX_WORK).receive_messages(max_messages=32)) == []
    work = list(store.account.queue(Queue.ACT_WORK).receive_messages(max_messages=32))
    items = [item for message in work for item in parse_work(message.content)]
    assert len(work) < len(items)  # several work items a message
    assert sorted(i.mailbox_id for i in items) == sorted(m.id for m in due)
    assert all(i.workload == "act" and store.get_mailbox(i.mailbox_id).act_host_id == i.lease_id for i in items)
    assert all(store.get_mailbox(i.mailbox_id).host_id is None for i in items)  # the incoming lease is not taken


def test_an_act_work_message_of_several_mailboxes_runs_each(
    own_app: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    functions = {f.get_function_name(): f for f in own_app.app.get_functions()}
    items = [WorkItem(mailbox_id=str(uuid.uuid4()), lease_id=str(uuid.uuid4()), workload="act") for _ in range(3)]
    body = WorkBatch(items=items).model_dump_json().encode()
    functions["process_act"].get_user_function()(func.QueueMessage(id="a1", body=body))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ACT cycle:")]
    assert sorted(line.split()[2] for line in lines) == sorted(f"mailbox={i.mailbox_id}" for i in items)
    assert all("status=stale" in line for line in lines)


def test_a_failed_act_item_of_a_batch_is_queued_again_alone(
    own_app: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its retries and poisoning then concern that mailbox only; the others of the message are not run again."""
    functions = {f.get_function_name(): f for f in own_app.app.get_functions()}
    items = [WorkItem(mailbox_id=str(uuid.uuid4()), lease_id=str(uuid.uuid4()), workload="act") for _ in range(3)]
    worker, real = own_app.services.act_worker, own_app.services.act_worker.run

    def fails_for_the_first(item: WorkItem) -> object:
        if item == items[0]:
            raise ConnectionResetError("the EWS connection was reset")  # a deterministic fault
        return real(item)

    monkeypatch.setattr(worker, "run", fails_for_the_first)
    body = WorkBatch(items=items).model_dump_json().encode()
    functions["process_act"].get_user_function()(func.QueueMessage(id="a2", body=body))
    again = list(own_app.services.store.account.queue(Queue.ACT_WORK).receive_messages(max_messages=32))
    assert [parse_work(m.content) for m in again] == [[items[0]]]


def _approved_mailbox(store: Store, profile: EmailServerProfile) -> Mailbox:
    mailbox = store.mailboxes.insert(Mailbox(
        name="m", email_address=f"{uuid.uuid4().hex[:10]}@example.test", email_server_profile_id=profile.id,
        owner=EntityRef(type=EntityType.SYSTEM_USER, id=str(uuid.uuid4())), approval=EmailAddressApproval.APPROVED,
    ))  # fmt: skip
    return schedule_now(store, mailbox.id, utcnow() - timedelta(minutes=1))
