"""The dev host against real Azurite: poison after maxDequeueCount, batch size, output bindings, timers,
and the project's own function app discovered from ``get_functions()``."""

from __future__ import annotations

import importlib
import json
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import azure.functions as func
import pytest

from sync.devhost import DevHost
from sync.settings import Settings
from sync.store.account import StorageAccount

pytestmark = pytest.mark.integration

HOST = {"extensions": {"queues": {"batchSize": 4, "maxDequeueCount": 3, "visibilityTimeout": "00:00:00"}}}


@pytest.fixture
def own_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"storage_prefix": "d" + uuid.uuid4().hex[:8]})


def build_app(calls: dict[str, Any]) -> func.FunctionApp:
    app = func.FunctionApp()
    lock = threading.Condition()

    @app.function_name(name="always_fails")
    @app.queue_trigger(arg_name="msg", queue_name="work-fail", connection="AzureWebJobsStorage")
    def always_fails(msg: func.QueueMessage) -> None:
        with lock:
            calls.setdefault("dequeue_counts", []).append(msg.dequeue_count)
        raise RuntimeError("boom")

    @app.function_name(name="counts")
    @app.queue_trigger(arg_name="msg", queue_name="work-ok", connection="AzureWebJobsStorage")
    @app.queue_output(arg_name="out", queue_name="work-done", connection="AzureWebJobsStorage")
    def counts(msg: func.QueueMessage, out: func.Out[str]) -> None:
        with lock:
            calls["running"] = calls.get("running", 0) + 1
            calls["peak"] = max(calls.get("peak", 0), calls["running"])
            lock.notify_all()
            # Wait (bounded) for a second handler of the batch rather than sleep: concurrency shown on a busy machine.
            lock.wait_for(lambda: calls["running"] >= 2 or len(calls.get("bodies", [])) >= 9, timeout=5)
        with lock:
            calls["running"] -= 1
            calls.setdefault("bodies", []).append(msg.get_body().decode())
            lock.notify_all()
        out.set(json.dumps({"done": msg.get_body().decode()}))

    @app.function_name(name="tick")
    @app.timer_trigger(schedule="%SYNC_MAILBOX_SCHEDULE%", arg_name="timer", run_on_startup=False)
    def tick(timer: func.TimerRequest) -> None:
        calls["ticks"] = calls.get("ticks", 0) + 1

    return app


def test_a_message_that_always_fails_lands_in_the_poison_queue(own_settings: Settings) -> None:
    calls: dict[str, Any] = {}
    host = DevHost(build_app(calls), own_settings, host_json=HOST)
    job = next(j for j in host.queues if j.name == "always_fails")
    job.queue.send_message("bad")
    host.run_once()
    assert calls["dequeue_counts"] == [1, 2, 3]  # maxDequeueCount tries, then poison
    assert job.stats.poisoned == 1
    poisoned = list(job.poison.receive_messages())
    assert [m.content for m in poisoned] == ["bad"]
    assert job.poison.queue_name == f"{own_settings.storage_prefix}-work-fail-poison"
    assert not list(job.queue.peek_messages())


def test_batches_respect_batch_size_and_outputs_are_forwarded(own_settings: Settings) -> None:
    calls: dict[str, Any] = {}
    host = DevHost(build_app(calls), own_settings, host_json=HOST)
    job = next(j for j in host.queues if j.name == "counts")
    for n in range(10):
        job.queue.send_message(f"m{n}")
    report = host.run_once()
    assert report.messages_handled["counts"] == 10
    assert sorted(calls["bodies"]) == sorted(f"m{n}" for n in range(10))
    assert max(job.stats.batches) <= 4 and 1 < calls["peak"] <= 4  # concurrent, never more than batchSize
    done = job.outputs["out"]
    forwarded = [json.loads(m.content)["done"] for m in done.receive_messages(messages_per_page=32, max_messages=32)]
    assert sorted(forwarded) == sorted(calls["bodies"])


def test_the_timer_fires_on_its_schedule(own_settings: Settings) -> None:
    calls: dict[str, Any] = {}
    start = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
    host = DevHost(build_app(calls), own_settings, host_json=HOST, clock=lambda: start)
    timer = host.timers[0]
    assert timer.next_fire == datetime(2030, 1, 1, 12, 1, 0, tzinfo=UTC)  # "0 */1 * * * *", the setting's default
    assert host.run_once(start).timers_fired == []
    assert host.run_once(start + timedelta(seconds=31)).timers_fired == ["tick"]
    assert calls["ticks"] == 1 and timer.next_fire == datetime(2030, 1, 1, 12, 2, 0, tzinfo=UTC)


@pytest.fixture
def function_app(own_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    assert own_settings.storage_connection_string is not None
    monkeypatch.setenv("AzureWebJobsStorage", own_settings.storage_connection_string.get_secret_value())
    monkeypatch.setenv("SYNC_SECRET_ENCRYPTION_KEY", own_settings.secret_encryption_key.get_secret_value())
    monkeypatch.setenv("SYNC_STORAGE_PREFIX", own_settings.storage_prefix)
    monkeypatch.setenv("SYNC_ALLOW_LOOPBACK_MAIL_HOSTS", "true")  # the test servers listen on 127.0.0.1
    sys.modules.pop("function_app", None)
    return importlib.import_module("function_app")


def test_the_projects_triggers_are_discovered_and_driven(function_app: ModuleType, own_settings: Settings) -> None:
    StorageAccount(own_settings).ensure_created()
    host = DevHost(function_app.app, own_settings)
    assert "schedule_mailboxes" in {t.name for t in host.timers}
    work = next(j for j in host.queues if j.name == "process_mailbox")
    assert work.queue.queue_name == f"{own_settings.storage_prefix}-mailbox-work"
    assert work.options.max_dequeue_count == 5 and work.options.batch_size == 16  # host.json
    work.queue.send_message("not json")  # malformed: logged and dropped, never retried
    host.run_once()
    assert work.stats.succeeded == 1 and work.stats.poisoned == 0


def test_serve_answers_on_its_port_and_stops_on_sigterm(own_settings: Settings, tmp_path: Any) -> None:
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    from devstack import free_port, wait_for_port  # noqa: PLC0415

    assert own_settings.storage_connection_string is not None
    port = free_port()
    env = {
        **os.environ,
        "AzureWebJobsStorage": own_settings.storage_connection_string.get_secret_value(),
        "SYNC_SECRET_ENCRYPTION_KEY": own_settings.secret_encryption_key.get_secret_value(),
        "SYNC_STORAGE_PREFIX": own_settings.storage_prefix,
    }
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "sync", "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port("127.0.0.1", port, 60.0, service="dev host", process=server, logs=[tmp_path / "serve.log"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
            assert json.load(response) == {"status": "ok", "storage": "ok"}
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
