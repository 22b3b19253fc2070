"""What the tests and the demo need of a local IMAP/POP3 server, whichever it is (Dovecot, Mailutils)."""

from __future__ import annotations

from typing import Protocol


class MailServer(Protocol):
    """A running IMAP + POP3 server on loopback with plaintext (STARTTLS/STLS) and implicit-TLS ports."""

    name: str
    host: str
    imap_port: int
    imaps_port: int
    pop3_port: int
    pop3s_port: int

    def add_user(self, address: str, password: str) -> None: ...

    def deliver(self, address: str, raw: bytes, *, mail_from: str = ...) -> None: ...

    def settle(self) -> None:
        """Return once the server has finished with every connection already closed (a dead client's)."""
        ...
