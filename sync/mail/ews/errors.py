"""exchangelib's exceptions, typed for the health policy (spec §2.15.1) — pure.

Everything an EWS call can raise leaves the connector as one of ours: the mailbox's credentials or
rights (:class:`MailAuthenticationError`: disabled at once with the credentials alert), a server that
will not work with us (:class:`PermanentMailError`), a passing outage (:class:`TransientMailError`:
ten tries five minutes apart), or the server asking for a pause (:class:`ServerBusy`: come back later,
no failure counted). Codes keep Exchange's own names so administrators can search them.
"""

from __future__ import annotations

import ssl

import requests
from exchangelib import errors as ews

from sync.mail.errors import (
    MailAuthenticationError,
    MailServerError,
    PermanentMailError,
    ServerBusy,
    TransientMailError,
)

# exchangelib re-raises transport failures as ErrorTimeoutExpired / ErrorServerBusy "Reraised from <error>(...)":
LINK_LOST_MARKERS = ("ConnectionError", "ChunkedEncodingError", "ReadTimeout", "RemoteDisconnected", "ConnectionReset")
DEFAULT_BACK_OFF_SECONDS = 60.0  # ErrorServerBusy without BackOffMilliseconds: a minute, as Exchange Online asks

AUTHENTICATION = (
    ews.UnauthorizedError,
    ews.ErrorAccessDenied,
    ews.ErrorImpersonateUserDenied,
    ews.ErrorNonExistentMailbox,  # R-PROV-17: user name not in UPN form, or no mailbox
    ews.ErrorInvalidLicense,  # R-PROV-15
)
TRANSIENT = (
    ews.ErrorInternalServerTransientError,
    ews.ErrorMailboxStoreUnavailable,
    ews.ErrorConnectionFailed,
    ews.ErrorConnectionFailedTransientError,
    ews.ErrorTimeoutExpired,
    ews.ErrorTooManyObjectsOpened,
    ews.ErrorExceededConnectionCount,
    ews.ErrorInternalServerError,
    ews.ErrorSubmissionQuotaExceeded,  # R-OUT-15: "will try to send the message again later"
    ews.RateLimitError,
    ews.MalformedResponseError,
    ews.SessionPoolMinSizeReached,
)


def translate(exc: BaseException, *, what: str) -> MailServerError:  # noqa: PLR0911 (one return per class)
    """``exc`` from exchangelib or requests as one of our typed errors; ``what`` names the call."""
    if isinstance(exc, MailServerError):
        return exc
    name = type(exc).__name__
    text = f"{what}: {name}: {exc}"[:1000]
    if isinstance(exc, ews.ErrorServerBusy) and _link_lost(exc):  # the network, not the server's throttling
        return TransientMailError(text, code="ConnectFailure")
    if isinstance(exc, ews.ErrorServerBusy):
        wait = float(exc.back_off) if exc.back_off else DEFAULT_BACK_OFF_SECONDS
        return ServerBusy(text, retry_after_seconds=wait, code="ErrorServerBusy")
    if isinstance(exc, ews.MalformedResponseError) and "Code: 403" in str(exc):  # EWS off, or an access policy
        return PermanentMailError(text, code="Http server returned Forbidden exception")
    if isinstance(exc, AUTHENTICATION):
        code = "Http server returned 401 Unauthorized exception" if isinstance(exc, ews.UnauthorizedError) else name
        return MailAuthenticationError(text, code=code)
    if isinstance(exc, TRANSIENT):
        return TransientMailError(text, code=name)
    if isinstance(exc, (requests.exceptions.SSLError, ssl.SSLError)):
        return PermanentMailError(text, code="SecureConnectionFailed")
    if isinstance(
        exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError, TimeoutError)
    ):
        return TransientMailError(text, code="ConnectFailure")
    if isinstance(exc, ews.TransportError):  # HTTP 5xx, redirects we do not follow, broken responses
        return TransientMailError(text, code=name)
    if isinstance(exc, ews.EWSError):
        return PermanentMailError(text, code=name)
    return PermanentMailError(text, code=name)


def _link_lost(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in LINK_LOST_MARKERS) or "closed connection" in text
