"""What every route needs, built once per app: settings, the store, the secret box and the mail adapters.

Routes ask for it with the ``Ctx`` dependency, so tests can build an app around the local stack (or around
stand-in connectors) without touching module globals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Annotated

from fastapi import Depends, Request

from sync.auth.secrets import SecretBox
from sync.crm.records import RecordService
from sync.mail.port import IncomingConnector
from sync.mailboxes.provisioning import Provisioning
from sync.mailboxes.test_enable import SendMail, TestAndEnable, smtp_send
from sync.model.fields import utcnow
from sync.model.options import ServerType
from sync.services import incoming_connectors
from sync.settings import Settings
from sync.store.store import Store


@dataclass
class ApiContext:
    settings: Settings
    store_factory: Callable[[], Store]
    connectors: Mapping[ServerType, IncomingConnector] = field(default_factory=incoming_connectors)
    send_mail: SendMail = smtp_send
    clock: Callable[[], datetime] = utcnow

    @cached_property
    def store(self) -> Store:
        return self.store_factory()

    @cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.settings.aes_key())

    @property
    def records(self) -> RecordService:
        return RecordService(self.store)

    @property
    def provisioning(self) -> Provisioning:
        return Provisioning(self.store)

    def test_and_enable(self) -> TestAndEnable:
        return TestAndEnable(
            self.store,
            self.box,
            self.connectors,
            self.send_mail,
            ca_file=self.settings.extra_ca_file,
            clock=self.clock,
        )


def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Ctx = Annotated[ApiContext, Depends(get_context)]
