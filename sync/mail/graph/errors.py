"""Microsoft Graph failures, typed at the client so the health policy and the sync/send state machines can act.

=====================================================  =========================================================
What Graph answered                                    Error
=====================================================  =========================================================
410, or a 4xx with ``syncStateNotFound`` /            :class:`DeltaExpired` - the delta link is dead: drop it
``resyncRequired``                                     and start a full round of that folder
429, 503                                               :class:`GraphThrottled` (transient) with the server's
                                                       ``Retry-After``; the caller waits or requeues
401, 403                                               MailAuthenticationError (token refused, app not allowed
                                                       on the mailbox)
500, 502, 504, connection failures, timeouts           TransientMailError
a POST sent whose reply never came                     :class:`OutcomeUnknown` - it may have taken effect
other 4xx                                              PermanentMailError carrying Graph's error ``code``
=====================================================  =========================================================
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Mapping
from typing import Any

import requests
import urllib3.exceptions

from sync.mail.errors import (
    MailAuthenticationError,
    MailServerError,
    PermanentMailError,
    ServerBusy,
    TransientMailError,
)

DELTA_EXPIRED_CODES = frozenset({"syncstatenotfound", "resyncrequired", "syncstateinvalid"})
THROTTLED_STATUSES = frozenset({429, 503})
DEFAULT_RETRY_AFTER_SECONDS = 30.0  # a 429 without Retry-After: Graph's guidance is to back off, unspecified
AUTH_STATUSES = frozenset({401, 403})


class GraphThrottled(ServerBusy):
    """Graph asked us to slow down: wait its Retry-After (``requested_seconds``, None when it sent none;
    then :data:`DEFAULT_RETRY_AFTER_SECONDS`).

    The client never sleeps: a worker holding a mailbox lease decides whether the wait fits its time box.
    """

    code = "Throttled"

    def __init__(self, message: str, *, retry_after_seconds: float | None, code: str | None = None) -> None:
        wait = DEFAULT_RETRY_AFTER_SECONDS if retry_after_seconds is None else retry_after_seconds
        super().__init__(message, retry_after_seconds=wait, code=code)
        self.requested_seconds = retry_after_seconds


class DeltaExpired(MailServerError):
    """The saved delta link expired (Outlook keeps delta tokens only while its cache holds them).

    Neither transient (repeating the link fails again) nor permanent (a full resync fixes it), so it sits
    beside those classes: the connector catches it, forgets the link and lists the folder from scratch.
    """

    code = "SyncStateNotFound"


class OutcomeUnknown(TransientMailError):
    """A POST went out and no reply came back: the mail may have been sent, the message may have moved.

    Retrying blindly could send twice; the sender marks the email "outcome unknown" and looks for its
    Message-ID in Sent Items before trying again.
    """

    code = "OutcomeUnknown"


def error_for(status: int, body: Any, headers: Mapping[str, str], where: str) -> MailServerError:
    """The typed error for a Graph error answer (``body`` is its parsed JSON, or None)."""
    code, message = graph_error(body)
    text = f"{where}: HTTP {status} {code or '-'}: {message}"
    request_id = headers.get("request-id")
    if request_id:
        text += f" (request-id {request_id})"
    if status == 410 or code.lower() in DELTA_EXPIRED_CODES:
        return DeltaExpired(text, code=code or None)
    if status in THROTTLED_STATUSES:
        return GraphThrottled(text, retry_after_seconds=retry_after(headers.get("Retry-After")), code=code or None)
    if status in AUTH_STATUSES:
        return MailAuthenticationError(text, code=code or None)
    if status >= 500:
        return TransientMailError(text, code=code or "ServerError")
    return PermanentMailError(text, code=code or f"HTTP{status}")


def transport_error(exc: requests.RequestException, method: str, where: str) -> MailServerError:
    """A failure below HTTP. Once a POST may have reached Graph, only :class:`OutcomeUnknown` is honest."""
    if isinstance(exc, requests.exceptions.SSLError):
        return PermanentMailError(f"{where}: secure connection failed: {exc}", code="SecureConnectionFailed")
    if method == "POST" and not _never_connected(exc):
        return OutcomeUnknown(f"{where}: no reply, the request may have taken effect: {exc}")
    if isinstance(exc, requests.Timeout):
        return TransientMailError(f"{where}: timed out: {exc}", code="SocketTimedOut")
    return TransientMailError(f"{where}: connection failed: {exc}", code="ConnectionFailed")


def graph_error(body: Any) -> tuple[str, str]:
    """``(code, message)`` of Graph's ``{"error": {"code", "message"}}``; empty strings when absent."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def retry_after(value: str | None, now: datetime.datetime | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); None when absent or garbled."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return max(0.0, (moment - (now or datetime.datetime.now(datetime.UTC))).total_seconds())


def _never_connected(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the server: no TCP connection was ever made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)
