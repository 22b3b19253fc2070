"""Errors of mail servers, typed at the connector boundary so the health policy can act on the class.

- :class:`TransientMailError`: worth retrying later (network down, timeout, server busy, dropped link).
- :class:`MailAuthenticationError`: the server refused the credentials; the mailbox needs attention.
- :class:`PermanentMailError`: retrying will not help (TLS failure, wrong host, protocol refused).
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
