"""Honouring a server's request to wait (EWS ErrorServerBusy, Graph 429/503) inside a function's time budget.

A wait that ends before the deadline (with a margin) is slept, then the request is made again, up to
:data:`MAX_WAITS` times; a longer one is handed back as :class:`~sync.mail.errors.ServerBusy`, so the
worker ends its cycle with its progress kept and comes back when the server said.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sync.mail.errors import MailServerError, ServerBusy

log = logging.getLogger(__name__)

T = TypeVar("T")
WAIT_MARGIN_SECONDS = 5.0  # a wait must end this long before the deadline to be worth it
MAX_WAITS = 3  # server-requested waits per request before giving the cycle up

Translate = Callable[[Exception, str], MailServerError]


class BackOff:
    def __init__(
        self, deadline: float | None, *, monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self.deadline = deadline
        self.monotonic = monotonic
        self.sleep = sleep

    def run(
        self, request: Callable[[], T], what: str, translate: Translate | None = None,
        passthrough: tuple[type[BaseException], ...] = (),
    ) -> T:  # fmt: skip
        """``request()``; exceptions become typed errors through ``translate`` (already typed when None)."""
        waits = 0
        while True:
            try:
                return request()
            except passthrough:
                raise
            except Exception as exc:
                error = exc if translate is None and isinstance(exc, MailServerError) else None
                if error is None:
                    if translate is None:
                        raise
                    error = translate(exc, what)
                if not isinstance(error, ServerBusy) or waits >= MAX_WAITS or not self._can_wait(error):
                    if error is exc:
                        raise
                    raise error from None
                waits += 1
                log.info("%s: the server asked to wait %.1f s", what, error.retry_after_seconds)
                self.sleep(error.retry_after_seconds)

    def _can_wait(self, busy: ServerBusy) -> bool:
        if self.deadline is None:
            return True
        return self.monotonic() + busy.retry_after_seconds + WAIT_MARGIN_SECONDS < self.deadline
