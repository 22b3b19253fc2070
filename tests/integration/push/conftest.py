"""Push end to end: the deployed app (dev host, Azurite queues), its admin API served over HTTP for Graph's
notifications, and the Graph test server delivering them (``tests/graph/notifications.py``).

Queues are drained without firing any timer (:meth:`PushWorld.drain`), so a mailbox processed there was
woken by a notification, never by the scheduler's tick; :meth:`PushWorld.poll` is the polling safety net.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from devstack import TestCA, free_port
from devstack.entra import EntraMock
from sync.api.app import create_app
from sync.api.context import ApiContext
from sync.model import Mailbox
from sync.model.options import TestStatus
from sync.settings import Settings
from sync.store.push_subscriptions import PushSubscription
from sync.store.store import Store
from tests.graph.notifications import Subscription
from tests.graph.server import GraphServer
from tests.integration.exchange.conftest import ALICE, Deployment, deploy
from tests.integration.exchange.conftest import entra as entra  # noqa: PLC0414 (the module-scoped fixture)
from tests.integration.exchange.doubles import GraphDouble

READY_TIMEOUT_S = 30.0


class _Server(uvicorn.Server):
    """uvicorn in a thread: no signal handlers, and an event when it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.accepting = threading.Event()

    def install_signal_handlers(self) -> None:
        """Not the main thread: the test process keeps its own handlers."""

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)  # type: ignore[arg-type]
        if self.started:
            self.accepting.set()


@dataclass
class PushWorld:
    deployment: Deployment
    graph: GraphServer
    context: ApiContext
    url: str
    address: str = ALICE  # the current test's mailbox
    mark: int = 0  # deliveries before the current test

    def deliveries(self) -> list[int]:
        """The statuses the app answered to the notifications of the current test."""
        return [d.status for d in self.graph.notifier.deliveries[self.mark :]]

    @property
    def store(self) -> Store:
        return self.deployment.store

    def enabled_mailbox(self, **fields: object) -> Mailbox:
        """The test's user mailbox through Graph, after a Test & Enable that passed (and subscribed it)."""
        mailbox = self.deployment.user_mailbox(self.address)
        if fields:
            mailbox = self.store.mailboxes.modify(mailbox.id, "mailbox", lambda m: _set(m, fields))
        report = self.context.test_and_enable().run(mailbox.id)
        assert report.incoming is TestStatus.SUCCESS, report.problems
        return self.store.get_mailbox(mailbox.id)

    def subscription(self, kind: str = "messages") -> Subscription:
        (found,) = [s for s in self.graph.notifier.subscriptions(self.address) if s.kind == kind]
        return found

    def record(self, mailbox: Mailbox, kind: str = "mail") -> PushSubscription:
        found = self.store.push_subscriptions.find(mailbox.id, kind)
        assert found is not None
        return found

    def drain(self) -> dict[str, int]:
        """Run what the queues hold now, firing no timer: messages handled per function."""
        return {job.name: job.drain() for job in self.deployment.host.queues}

    def poll(self, mailbox: Mailbox) -> None:
        """The polling safety net: the mailbox due now, the scheduler's tick, the queues."""
        self.deployment.cycle(mailbox)


def _set(mailbox: Mailbox, fields: dict[str, object]) -> None:
    for name, value in fields.items():
        setattr(mailbox, name, value)


@pytest.fixture(scope="module")
def push_world(settings: Settings, test_ca: TestCA, entra: EntraMock) -> Iterator[PushWorld]:
    """One deployment per module (starting one takes seconds); each test uses mailboxes of its own."""
    with pytest.MonkeyPatch.context() as monkeypatch, deploy("graph", settings, test_ca, entra, monkeypatch) as world:
        assert isinstance(world.server, GraphDouble)
        port = free_port()
        url = f"http://127.0.0.1:{port}/api/push/graph"
        api_settings = world.settings.model_copy(update={"graph_notification_url": url})
        app = create_app(api_settings, lambda: world.store)
        server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, name="push-api", daemon=True)
        thread.start()
        try:
            assert server.accepting.wait(READY_TIMEOUT_S), "the API did not start"
            yield PushWorld(world, world.server.server, app.state.context, url)
        finally:
            server.should_exit = True
            thread.join(READY_TIMEOUT_S)


@pytest.fixture
def push(push_world: PushWorld) -> PushWorld:
    """The module's deployment, with a mailbox address no other test uses (``push.address``)."""
    push_world.address = f"u{uuid.uuid4().hex[:10]}@example.test"
    push_world.graph.add_mailbox(push_world.address)
    push_world.mark = len(push_world.graph.notifier.deliveries)
    return push_world
