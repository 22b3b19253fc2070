"""Errors of mail servers, typed at the connector boundary so the health policy can act on the class.

- :class:`TransientMailError`: worth retrying later (network down, timeout, server busy, dropped link).
- :class:`MailAuthenticationError`: the server refused the credentials; the mailbox needs attention.
- :class:`PermanentMailError`: retrying will not help (TLS failure, wrong host, protocol refused);
  :class:`SecureConnectionRequired` when the server wants TLS before login.
"""

from __future__ import annotations

from sync.errors import SyncError


class MailServerError(SyncError):
    """Root of every mail-server failure; ``code`` names it for alerts (Dynamics-style code names)."""

    code: str = "MailServerError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class TransientMailError(MailServerError):
    code = "TransientMailError"


class MailAuthenticationError(MailServerError):
    code = "AuthenticationFailed"


class PermanentMailError(MailServerError):
    code = "PermanentMailError"


class SecureConnectionRequired(PermanentMailError):
    """The server refuses to log in over a plaintext connection (IMAP LOGINDISABLED or [PRIVACYREQUIRED], a POP3
    server without USER before STLS, "-ERR ... plaintext"): the profile must use TLS. A configuration problem, not
    wrong credentials: the password is right, and is never sent in the clear once the server said so."""

    code = "SecureConnectionRequired"


class ServerBusy(TransientMailError):
    """The server asked us to back off (EWS ErrorServerBusy, Graph 429): not a failure of the mailbox.

    The worker waits when the wait fits in its time budget, else ends the cycle and comes back after
    ``retry_after_seconds`` without counting a failure (N-3 throttling is the server's policy, not an outage).
    """

    code = "ServerBusy"

    def __init__(self, message: str, *, retry_after_seconds: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds


class MessageGone(MailServerError):
    """The message vanished between listing and fetching (deleted or moved by the user): skip it."""

    code = "ErrorItemNotFound"
