"""The console's typed answers to a request it will not serve as asked; ``sync.console.app`` renders them."""

from __future__ import annotations


class ConsoleError(Exception):
    """Root of the console's errors."""


class SignInRequired(ConsoleError):
    """No live session: a page answers with a redirect to the sign-in page."""


class Refused(ConsoleError):
    """The console answers ``status`` with ``message`` on an error page (403 for a reader's change, 413, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
