"""Failures a test arms for the next calls of a route: an error status, or a connection dropped before the reply.

A failure answers instead of the handler, so nothing changes in the mailbox. A drop happens after the
handler ran: the mailbox changed but the client never hears it (the "was my mail sent?" case). Each armed
fault is used up by the calls it answers; thread-safe.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from tests.graph.api import ApiError

FAULT_BODIES = {  # status -> what Graph says with it
    401: ("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("ErrorInternalServerError", "An internal server error occurred. The operation failed."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response."),
}
UNKNOWN_FAULT = ("UnknownError", "An injected failure.")


@dataclass
class _Armed:
    status: int
    retry_after_s: float | None
    remaining: int


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, _Armed] = {}
        self._drops: Counter[str] = Counter()

    def fail_next(self, route: str, status: int, retry_after_s: float | None, count: int) -> None:
        with self._lock:
            self._failures[route] = _Armed(status, retry_after_s, count)

    def drop_next(self, route: str) -> None:
        with self._lock:
            self._drops[route] += 1

    def failure(self, route: str) -> ApiError | None:
        """The error armed for this call of ``route``, if any, using it up."""
        with self._lock:
            armed = self._failures.get(route)
            if armed is None:
                return None
            armed.remaining -= 1
            if armed.remaining <= 0:
                del self._failures[route]
        code, message = FAULT_BODIES.get(armed.status, UNKNOWN_FAULT)
        headers = {} if armed.retry_after_s is None else {"Retry-After": _seconds(armed.retry_after_s)}
        return ApiError(armed.status, code, message, headers)

    def drop(self, route: str) -> bool:
        """Whether this call of ``route`` loses its reply, using the armed drop up."""
        with self._lock:
            if self._drops[route] <= 0:
                return False
            self._drops[route] -= 1
            return True


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
