"""The port every outgoing connector implements (SMTP; later EWS and Graph).

A sender opens a session (connected, secured, authenticated), then transmits one envelope at a time.
A transmission stops just before DATA and asks the caller whether to go on: that is where the sender
claims the email, so a message is only ever handed over under a claim (see ``sync/outgoing/sender.py``).
Server replies come back as values, per recipient; only failures of the connection itself are raised,
typed (``sync/mail/errors.py``), with one addition: :class:`DeliveryStatusUnknown`, raised when the
link broke after the whole message was sent but before the server answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from sync.mail.errors import MailServerError, TransientMailError
from sync.model import EmailServerProfile, Mailbox
from sync.outgoing.replies import SmtpReply

TlsName = Literal["implicit", "starttls", "none"]
AuthName = Literal["password", "xoauth2", "none"]


class DeliveryStatusUnknown(MailServerError):
    """The message was handed over but the server's answer never came: it may or may not be delivered."""

    code = "DeliveryStatusUnknown"


class NoConnectionSlot(TransientMailError):
    """Every connection the profile allows (N-12) is in use, here or on other instances: try shortly."""

    code = "ConnectionLimitReached"


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to connect; secrets are plaintext here and live only in memory (never in repr).

    ``auth == "xoauth2"`` logs in with a bearer token (SASL XOAUTH2 or OAUTHBEARER, whichever the server
    offers) from ``oauth(force_refresh)``, asked only when a connection is opened.
    """

    host: str
    port: int
    tls: TlsName
    auth: AuthName
    username: str | None
    password: str | None = field(default=None, repr=False)
    oauth: Callable[[bool], str] | None = field(default=None, repr=False, compare=False)
    timeout_seconds: float | None = None
    ca_file: str | None = None
    scope: str = ""  # what N-12 counts connections per: a profile, or a mailbox with its own credentials
    max_connections: int = 10  # the profile's maxconcurrentconnections (N-12)

    @property
    def secret(self) -> str:
        """The password, for redaction (a token is redacted by the session that used it)."""
        return self.password or ""

    @property
    def pool_key(self) -> tuple[str, int, str, str, str]:
        """Connections with the same key are interchangeable: same server, same login."""
        return (self.host.lower(), self.port, self.tls, self.auth, self.username or "")


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # the message, CRLF line endings
    smtputf8: bool = False  # an address needs SMTPUTF8 (RFC 6531)


@dataclass(frozen=True)
class Transmission:
    """What the server answered to one envelope.

    ``data`` is None when DATA was never reached (MAIL refused, every RCPT refused, or the caller said
    no); it is the reply to DATA itself when that was refused, else the reply to the end of the message.
    """

    mail: SmtpReply
    rcpt: Mapping[str, SmtpReply] = field(default_factory=dict)
    data: SmtpReply | None = None
    declined: bool = False  # the caller's ``before_data`` said no (the claim went to someone else)

    @property
    def rcpt_accepted(self) -> list[str]:
        return [address for address, reply in self.rcpt.items() if 200 <= reply.code < 300]

    @property
    def delivered(self) -> bool:
        return self.data is not None and 200 <= self.data.code < 300


BeforeData = Callable[[Mapping[str, SmtpReply]], bool]


class OutgoingSession(Protocol):
    """An open, authenticated connection; one transmission at a time."""

    @property
    def usable(self) -> bool:
        """False once the connection broke: the pool closes it instead of reusing it."""
        ...

    def transmit(self, envelope: Envelope, before_data: BeforeData) -> Transmission:
        """MAIL, RCPT per recipient, then ``before_data(rcpt replies)``; DATA only if it returns True.

        Raises a TransientMailError when the link fails before the end of the message was sent (nothing
        was delivered), :class:`DeliveryStatusUnknown` when it fails after; exceptions of ``before_data``
        propagate untouched.
        """
        ...

    def close(self) -> None: ...


class OutgoingConnector(Protocol):
    def open(self, endpoint: SmtpEndpoint) -> OutgoingSession:
        """Connect, secure and authenticate; raises a typed MailServerError on failure."""
        ...


class AccessTokenSource(Protocol):
    """OAuth access tokens for SASL XOAUTH2 / OAUTHBEARER logins (IMAP, POP3 and SMTP of OAuth profiles).

    One contract for every kind of token (Microsoft app-only, Google service account, per-mailbox consent):
    ``sync/auth/mail_tokens.py`` picks the right source for a mailbox and profile.
    """

    def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
        """A current access token for ``mailbox``.

        ``force_refresh``: the server refused the token this source last gave (it expired or was revoked
        early), so a cached one must not be served again. Raises :class:`~sync.mail.errors.MailAuthenticationError`
        (with a code) when no token can be had, a TransientMailError when the identity provider is unreachable;
        a token never appears in an error message or a log line.
        """
        ...


class ExchangeOutbox(Protocol):
    """Sending through Exchange (EWS; later Graph): the whole message at once, a copy kept in Sent Items.

    Exchange takes or refuses the submission as a whole, so there is no per-recipient stage and the claim
    comes just before :meth:`send`. Unlike SMTP, a lost answer can be settled afterwards: the copy in
    Sent Items carries our Message-ID (:meth:`find_sent`).
    """

    def send(self, data: bytes, *, save_copy: bool) -> None:
        """Submit ``data`` (RFC 5322, Bcc as a header). Raises a TransientMailError when nothing was handed over,
        :class:`DeliveryStatusUnknown` when the request left and its answer was lost."""
        ...

    def find_sent(self, message_id: str) -> bool:
        """Whether a message with ``message_id`` is in the mailbox's Sent Items (or still in its Outbox)."""
        ...


class ExchangeSender(Protocol):
    def open_outbox(self, mailbox: Mailbox, profile: EmailServerProfile) -> ExchangeOutbox:
        """The mailbox's outbox (connections are reused); raises a typed MailServerError."""
        ...
