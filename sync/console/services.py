"""What the console's routes share, built once per app next to the API's context."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from fastapi import Request

from sync.api.context import ApiContext
from sync.console.entra_signin import EntraSignIn, is_configured
from sync.console.sessions import SessionStore
from sync.store.names import Table

STATE_KEY = "console"


@dataclass
class ConsoleServices:
    context: ApiContext  # the API's own: settings, store, Test & Enable, clock

    @property
    def max_body_bytes(self) -> int:
        return self.context.settings.api_max_body_bytes

    @cached_property
    def sessions(self) -> SessionStore:
        store = self.context.store
        return SessionStore(store.account.table(Table.CONSOLE_SESSIONS), self.context.box, self.context.clock)

    @cached_property
    def entra(self) -> EntraSignIn | None:
        """Entra ID sign-in when configured; None locally, where ``make dev`` prints sign-in links instead."""
        return EntraSignIn(self.context.settings) if is_configured(self.context.settings) else None


def services(request: Request) -> ConsoleServices:
    console: ConsoleServices = getattr(request.app.state, STATE_KEY)
    return console
