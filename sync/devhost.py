"""Run the Functions app locally without the Functions host: timers, queue triggers on Azurite, and the API.

The triggers are read from the app itself (``app.get_functions()``), so a trigger added to ``function_app.py``
is driven here without changes:

- timer triggers fire on their NCRONTAB schedule; ``%SETTING%`` expressions resolve through the settings
  (so defaults apply when the variable is unset), then the environment; ``runOnStartup`` is honoured;
- queue triggers poll their Azurite queue (names prefixed like every storage name) with the host.json
  semantics: up to ``batchSize`` messages per batch, run concurrently; a failed message becomes visible
  again after ``visibilityTimeout``; once its dequeue count reaches ``maxDequeueCount`` it moves to
  ``<queue>-poison``; an idle queue is polled with back-off up to ``maxPollingInterval``. Queue output
  bindings are forwarded to their queues after the function succeeds;
- the admin API is served by uvicorn on port 7071, the port ``func start`` uses.

:meth:`DevHost.run_once` fires the due timers and drains every queue once, which is what tests drive.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from sync.errors import ConfigurationError
from sync.logging_setup import quiet_sdk_loggers
from sync.mail import egress
from sync.model.fields import utcnow
from sync.settings import Settings, setting_names
from sync.store.account import StorageAccount
from sync.store.names import queue_name

log = logging.getLogger(__name__)

DEFAULT_PORT = 7071  # what `func start` listens on
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"
PROCESSING_HIDE_SECONDS = 600  # a received message stays hidden this long while its function runs
_SETTING_EXPRESSION = re.compile(r"^%([A-Za-z0-9_]+)%$")


# --- host.json ---------------------------------------------------------------------------------------------------
def parse_timespan(value: str) -> float:
    """Seconds in a .NET TimeSpan as host.json writes it (``hh:mm:ss`` or ``d.hh:mm:ss``)."""
    head, _, rest = value.partition(":")
    days, _, hours = head.rpartition(".")
    minutes, _, seconds = rest.partition(":")
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)


@dataclass(frozen=True)
class QueueOptions:
    """The ``extensions.queues`` section of host.json, with the host's defaults."""

    batch_size: int = 16
    max_dequeue_count: int = 5
    visibility_timeout_seconds: float = 0.0
    max_polling_interval_seconds: float = 60.0

    @classmethod
    def from_host_json(cls, host: dict[str, Any]) -> QueueOptions:
        queues = host.get("extensions", {}).get("queues", {})
        return cls(
            batch_size=int(queues.get("batchSize", 16)),
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout_seconds=parse_timespan(queues.get("visibilityTimeout", "00:00:00")),
            max_polling_interval_seconds=parse_timespan(queues.get("maxPollingInterval", "00:01:00")),
        )


def load_host_json(path: Path = HOST_JSON) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# --- NCRONTAB (six fields: second minute hour day month day-of-week) ----------------------------------------------
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))  # day of week: 0 and 7 are Sunday


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            start, end = low, high
        elif "-" in spec:
            first, last = spec.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = int(spec)
            end = high if step_text else start
        if step < 1 or start < low or end > high or start > end:
            raise ValueError(f"{part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    """An NCRONTAB expression, as the Functions timer trigger reads it (UTC)."""

    expression: str
    fields: tuple[frozenset[int], ...]
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != len(_RANGES):
            raise ValueError(f"{expression!r} is not a six-field NCRONTAB expression")
        try:
            fields = tuple(_field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES, strict=True))
            fields = (*fields[:5], frozenset(v % 7 for v in fields[5]))
        except ValueError as exc:
            raise ValueError(f"{expression!r}: {exc}") from None
        return cls(expression, fields, parts[3] != "*", parts[5] != "*")

    def _day_matches(self, moment: datetime) -> bool:
        day = moment.day in self.fields[3]
        weekday = (moment.isoweekday() % 7) in self.fields[5]
        if self.day_restricted and self.weekday_restricted:
            return day or weekday  # cron: either restriction may match
        return day and weekday

    def next_after(self, moment: datetime) -> datetime:
        """The first firing time strictly after ``moment``."""
        t = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        seconds, minutes, hours, _, months, _ = self.fields
        for _ in range(100_000):  # bounded: every valid expression matches within a few hundred steps
            if t.month not in months:
                t = (t.replace(day=1, hour=0, minute=0, second=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif t.hour not in hours:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
            elif t.minute not in minutes:
                t = t.replace(second=0) + timedelta(minutes=1)
            elif t.second not in seconds:
                t += timedelta(seconds=1)
            else:
                return t
        raise ValueError(f"{self.expression!r} never fires")


def resolve_setting(value: str, settings: Settings) -> str:
    """``%NAME%`` -> the setting's value (its default if unset), else the environment variable; else as is."""
    found = _SETTING_EXPRESSION.match(value)
    if not found:
        return value
    name = found.group(1)
    for field_name, aliases in setting_names().items():
        if name.lower() in (a.lower() for a in aliases):
            return str(getattr(settings, field_name))
    if name in os.environ:
        return os.environ[name]
    raise ConfigurationError(f"the trigger expression %{name}% names no setting and no environment variable")


# --- triggers ----------------------------------------------------------------------------------------------------
class Out:
    """Stand-in for ``func.Out[T]``: holds what the function set."""

    def __init__(self) -> None:
        self.value: Any = None

    def set(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


def _call(function: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    result = function(**kwargs)
    if inspect.isawaitable(result):
        asyncio.run(_awaited(result))


async def _awaited(result: Any) -> None:
    await result


def _is_out(direction: Any) -> bool:
    return str(getattr(direction, "name", direction)).upper().endswith("OUT")


@dataclass
class TimerJob:
    name: str
    schedule: Schedule
    function: Callable[..., Any]
    arg_name: str
    run_on_startup: bool
    next_fire: datetime

    def fire(self, now: datetime) -> None:
        past_due = now - self.next_fire > timedelta(seconds=60)
        try:
            _call(self.function, {self.arg_name: TimerRequest(past_due=past_due)})
        except Exception:  # a failed tick is logged; the next one runs on schedule, as in the host
            log.exception("timer %s failed", self.name)
        self.next_fire = self.schedule.next_after(now)


@dataclass
class QueueStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    poisoned: int = 0
    batches: list[int] = field(default_factory=list)


@dataclass
class QueueJob:
    name: str
    queue: QueueClient
    poison: QueueClient
    function: Callable[..., Any]
    arg_name: str
    outputs: dict[str, QueueClient]
    options: QueueOptions
    stats: QueueStats = field(default_factory=QueueStats)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure_queues(self) -> None:
        for client in (self.queue, self.poison, *self.outputs.values()):
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()

    def receive(self) -> list[Any]:
        return list(
            self.queue.receive_messages(
                messages_per_page=self.options.batch_size,
                max_messages=self.options.batch_size,
                visibility_timeout=PROCESSING_HIDE_SECONDS,
            )
        )

    def drain(self) -> int:
        """Run batches until no message is visible; returns how many messages were handled."""
        handled = 0
        while batch := self.receive():
            with self._lock:
                self.stats.batches.append(len(batch))
                self.stats.received += len(batch)
            with ThreadPoolExecutor(max_workers=len(batch)) as pool:
                list(pool.map(self.handle, batch))
            handled += len(batch)
        return handled

    def handle(self, message: Any) -> None:
        if message.dequeue_count > self.options.max_dequeue_count:  # a crash ran it out of tries
            self._to_poison(message)
            return
        outputs = {name: Out() for name in self.outputs}
        body = QueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=(message.content or "").encode("utf-8"),
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        try:
            _call(self.function, {self.arg_name: body, **outputs})
        except Exception:
            log.exception(
                "queue trigger %s failed on message %s (try %s)", self.name, message.id, message.dequeue_count
            )
            self._count("failed")
            if message.dequeue_count >= self.options.max_dequeue_count:
                self._to_poison(message)
            else:
                self.queue.update_message(
                    message,
                    pop_receipt=message.pop_receipt,
                    visibility_timeout=int(self.options.visibility_timeout_seconds),
                )
            return
        for name, out in outputs.items():
            values = out.value if isinstance(out.value, list) else [out.value] if out.value is not None else []
            for value in values:
                self.outputs[name].send_message(value if isinstance(value, str) else json.dumps(value))
        self.queue.delete_message(message, pop_receipt=message.pop_receipt)
        self._count("succeeded")

    def _to_poison(self, message: Any) -> None:
        log.warning(
            "moving message %s of %s to %s after %s tries",
            message.id,
            self.name,
            self.poison.queue_name,
            message.dequeue_count,
        )
        self.poison.send_message(message.content)
        self.queue.delete_message(message, pop_receipt=message.pop_receipt)
        self._count("poisoned")

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.stats, name, getattr(self.stats, name) + 1)


@dataclass
class RunReport:
    timers_fired: list[str] = field(default_factory=list)
    messages_handled: dict[str, int] = field(default_factory=dict)


class DevHost:
    """The triggers of one FunctionApp, driven against the storage account of ``settings``."""

    def __init__(
        self,
        function_app: Any,
        settings: Settings,
        *,
        host_json: dict[str, Any] | None = None,
        account: StorageAccount | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        quiet_sdk_loggers(settings.sdk_log_level)
        egress.configure(settings.egress_policy())
        self.account = account or StorageAccount(settings)
        self.options = QueueOptions.from_host_json(host_json if host_json is not None else load_host_json())
        self.clock = clock
        self.timers: list[TimerJob] = []
        self.queues: list[QueueJob] = []
        self._stop = threading.Event()
        now = clock()
        self.functions = list(function_app.get_functions())  # the SDK allows one call: a second finds duplicates
        for function in self.functions:
            trigger = function.get_trigger().get_dict_repr()
            kind = trigger.get("type")
            if kind == "timerTrigger":
                schedule = Schedule.parse(resolve_setting(str(trigger["schedule"]), settings))
                run_on_startup = bool(trigger.get("runOnStartup"))
                self.timers.append(
                    TimerJob(
                        function.get_function_name(),
                        schedule,
                        function.get_user_function(),
                        str(trigger["name"]),
                        run_on_startup,
                        now if run_on_startup else schedule.next_after(now),
                    )
                )
            elif kind == "queueTrigger":
                self.queues.append(self._queue_job(function, trigger))

    def _client(self, name: str) -> QueueClient:
        return self.account.queues.get_queue_client(
            queue_name(self.settings.storage_prefix, name),
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )

    def _queue_job(self, function: Any, trigger: dict[str, Any]) -> QueueJob:
        name = resolve_setting(str(trigger["queueName"]), self.settings)
        outputs = {}
        for binding in function.get_bindings():
            spec = binding.get_dict_repr()
            if spec.get("type") == "queue" and _is_out(spec.get("direction")):
                outputs[str(spec["name"])] = self._client(resolve_setting(str(spec["queueName"]), self.settings))
        job = QueueJob(
            function.get_function_name(),
            self._client(name),
            self._client(f"{name}-poison"),
            function.get_user_function(),
            str(trigger["name"]),
            outputs,
            self.options,
        )
        job.ensure_queues()
        return job

    def describe(self) -> list[tuple[str, str]]:
        """(name, trigger type) of every function of the app."""
        return [(f.get_function_name(), str(f.get_trigger().get_dict_repr().get("type"))) for f in self.functions]

    # --- one pass (tests, and the loops below) -------------------------------------------------------------------
    def fire_due_timers(self, now: datetime | None = None) -> list[str]:
        now = now or self.clock()
        fired = []
        for timer in self.timers:
            if timer.next_fire <= now:
                timer.fire(now)
                fired.append(timer.name)
        return fired

    def run_once(self, now: datetime | None = None) -> RunReport:
        """Fire the timers due at ``now``, then drain every queue until nothing is visible."""
        report = RunReport(timers_fired=self.fire_due_timers(now))
        for job in self.queues:
            report.messages_handled[job.name] = job.drain()
        return report

    # --- the long-running host -----------------------------------------------------------------------------------
    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            self.fire_due_timers()
            upcoming = min((t.next_fire for t in self.timers), default=None)
            wait = (upcoming - self.clock()).total_seconds() if upcoming else 60.0
            self._stop.wait(min(max(wait, 0.05), 60.0))

    def _queue_loop(self, job: QueueJob) -> None:
        idle = 0.1
        while not self._stop.is_set():
            try:
                handled = job.drain()
            except Exception:  # storage trouble: keep polling, as the host does
                log.exception("polling %s failed", job.queue.queue_name)
                handled = 0
            idle = 0.1 if handled else min(idle * 2, self.options.max_polling_interval_seconds)
            self._stop.wait(idle)

    def start_background(self) -> list[threading.Thread]:
        """Timers and queue pollers on daemon threads, until :meth:`stop`."""
        threads = [threading.Thread(target=self._timer_loop, name="devhost-timers", daemon=True)]
        threads += [
            threading.Thread(target=self._queue_loop, args=(job,), name=f"devhost-{job.name}", daemon=True)
            for job in self.queues
        ]
        for thread in threads:
            thread.start()
        return threads

    def stop(self) -> None:
        self._stop.set()

    def serve(
        self,
        api: Any | None,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """Run until SIGINT or SIGTERM: the background triggers, and the API when given (uvicorn in front).

        ``on_ready`` runs once the API accepts connections (at once without an API), so a caller can say
        "ready" only when it is true.
        """
        threads = self.start_background()
        log.info("dev host: %d timer(s), %d queue trigger(s)", len(self.timers), len(self.queues))
        try:
            if api is not None:
                import uvicorn  # noqa: PLC0415 (a development dependency, only needed here)

                class Server(uvicorn.Server):
                    """Stops on SIGINT/SIGTERM like uvicorn, without re-raising the signal once stopped, so the
                    triggers below get to finish and the process exits 0."""

                    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                        super().handle_exit(sig, frame)
                        self._captured_signals.clear()

                    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                        await super().startup(sockets=sockets)
                        if self.started and on_ready is not None:
                            on_ready()

                Server(uvicorn.Config(api, host=host, port=port, log_level="info")).run()
            else:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, lambda *_: self._stop.set())
                if on_ready is not None:
                    on_ready()
                self._stop.wait()
        finally:
            self.stop()
            for thread in threads:
                thread.join(timeout=30)
