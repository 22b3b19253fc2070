"""SASL bearer-token logins (XOAUTH2, OAUTHBEARER RFC 7628) shared by IMAP, POP3 and SMTP — pure.

What is sent: XOAUTH2 (Google's and Microsoft's) ``user=<user>^Aauth=Bearer <token>^A^A``; OAUTHBEARER
``n,a=<user>,^Ahost=<host>^Aport=<port>^Aauth=Bearer <token>^A^A``. The mechanism is the first of
:data:`PREFERENCE` the server offers (IMAP ``AUTH=``, POP3 ``CAPA SASL``, SMTP ``EHLO AUTH``).

What a refusal says: both mechanisms answer a bad token with a challenge holding a JSON status (base64 on the
wire): XOAUTH2 an HTTP-like ``"status": "401"`` (Gmail also 400 for an expired token), OAUTHBEARER an RFC 6750
code such as ``"invalid_token"`` or ``"insufficient_scope"``. The client answers with a dummy response, and the
server then fails the command. :func:`classify` turns the status into what to do:

- the token is no longer taken (expired or revoked early, or a status we do not know): ask the identity
  provider for a new token and log in once more; a second refusal is a credentials error;
- the token is for the wrong audience or lacks the scope: a credentials error at once, a new token of the
  same app would say the same;
- the server cannot check tokens now (5xx, ``temporarily_unavailable``): transient.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

from sync.mail.errors import MailAuthenticationError, SecureConnectionRequired, TransientMailError

XOAUTH2: Final = "XOAUTH2"
OAUTHBEARER: Final = "OAUTHBEARER"
PREFERENCE: tuple[str, ...] = (XOAUTH2, OAUTHBEARER)
"""XOAUTH2 first: Exchange Online offers only it, Gmail both, and its error status is the better known."""

NO_MECHANISM_CODE = "OAuthMechanismNotOffered"
REFUSED_CODE = "OAuthTokenRejected"
SCOPE_CODE = "OAuthTokenScopeRejected"
UNAVAILABLE_CODE = "OAuthValidationUnavailable"
XOAUTH2_ERROR_ACK = b""  # what a client answers to an XOAUTH2 error challenge
OAUTHBEARER_ERROR_ACK = b"\x01"  # RFC 7628 §3.2.3: a single %x01

SCOPE_STATUSES = frozenset({"403", "insufficient_scope", "invalid_scope", "wrong_audience"})
TRANSIENT_STATUSES = frozenset({"temporarily_unavailable", "server_error"})


class Refusal(StrEnum):
    """What a refused bearer token calls for."""

    NEW_TOKEN = "new_token"  # try once more with a token fresh from the identity provider
    CREDENTIALS = "credentials"  # the app's grant or the profile is wrong: an administrator must act
    TRANSIENT = "transient"  # the server cannot check tokens now: try later


@dataclass(frozen=True)
class BearerStatus:
    """The server's answer to a refused token: its JSON status (may be empty) and its final words."""

    status: str = ""
    scope: str = ""
    server_text: str = ""  # the refusal line of the protocol (NO ..., -ERR ..., 535 ...)

    def describe(self) -> str:
        parts = [f"status {self.status}" if self.status else "", f"scope {self.scope}" if self.scope else ""]
        details = ", ".join(part for part in parts if part)
        return f"{self.server_text} ({details})" if details else self.server_text


class BearerRefused(Exception):
    """A protocol adapter's report that the server refused the token; turned into a typed error by the login."""

    def __init__(self, status: BearerStatus) -> None:
        super().__init__(status.describe())
        self.status = status


class BearerExchange:
    """One SASL exchange, as the protocol libraries drive it (called with each server challenge).

    The first call answers with the initial response; a later one is an error challenge: it is kept
    (:attr:`status`) and acknowledged, after which the server fails the command.
    """

    def __init__(self, mechanism: str, user: str, token: str, host: str, port: int) -> None:
        self.mechanism = mechanism
        self._initial = initial_response(mechanism, user, token, host, port)
        self._sent = False
        self.status = BearerStatus()

    def __call__(self, challenge: bytes | None = None) -> bytes:
        if not self._sent:
            self._sent = True
            return self._initial
        self.status = parse_challenge(challenge or b"")
        return error_ack(self.mechanism)

    def refused(self, server_text: str) -> BearerRefused:
        """The refusal to raise, with the server's final words."""
        return BearerRefused(BearerStatus(self.status.status, self.status.scope, server_text))


def choose_mechanism(offered: Iterable[str], preference: Iterable[str] = PREFERENCE) -> str | None:
    """The first mechanism of ``preference`` among ``offered`` (case-insensitive); None when none is."""
    names = {name.upper() for name in offered}
    return next((mechanism for mechanism in preference if mechanism in names), None)


def initial_response(mechanism: str, user: str, token: str, host: str, port: int) -> bytes:
    """The client's first (and only) message of ``mechanism``, unencoded."""
    if mechanism == XOAUTH2:
        return f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    if mechanism == OAUTHBEARER:
        authzid = user.replace("=", "=3D").replace(",", "=2C")  # RFC 5801 saslname
        return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()
    raise ValueError(f"not a bearer-token mechanism: {mechanism}")


def error_ack(mechanism: str) -> bytes:
    return OAUTHBEARER_ERROR_ACK if mechanism == OAUTHBEARER else XOAUTH2_ERROR_ACK


def parse_challenge(challenge: bytes) -> BearerStatus:
    """The JSON status of an error challenge, given base64-encoded or already decoded; empty when it is neither."""
    raw = challenge.strip()
    try:
        raw = base64.b64decode(raw, validate=True) if raw and not raw.startswith(b"{") else raw
        document = json.loads(raw.decode("utf-8")) if raw else {}
    except (binascii.Error, ValueError):
        return BearerStatus()
    if not isinstance(document, dict):
        return BearerStatus()
    return BearerStatus(status=str(document.get("status", "")), scope=str(document.get("scope", "")))


def classify(status: BearerStatus) -> Refusal:
    code = status.status.strip().lower()
    if code in TRANSIENT_STATUSES or (code.isdigit() and code.startswith("5")):
        return Refusal.TRANSIENT
    if code in SCOPE_STATUSES:
        return Refusal.CREDENTIALS
    return Refusal.NEW_TOKEN


TokenFetch = Callable[[bool], str]
"""``fetch(force_refresh)``: the mailbox's access token; with True, never the one handed out before."""

T = TypeVar("T")


def login_with_token(fetch: TokenFetch, attempt: Callable[[str], T], where: str) -> T:
    """``attempt(token)``; when the server refuses a token that a new one may fix, once more with a new one.

    ``attempt`` raises :class:`BearerRefused` for a refused token; the result is a typed error whose message
    holds the server's words, never the token.
    """
    try:
        return attempt(fetch(False))
    except BearerRefused as refused:
        if classify(refused.status) is not Refusal.NEW_TOKEN:
            raise refusal_error(refused.status, where) from None
    try:
        return attempt(fetch(True))
    except BearerRefused as refused:
        raise refusal_error(refused.status, where, renewed=True) from None


def refusal_error(
    status: BearerStatus, where: str, *, renewed: bool = False
) -> MailAuthenticationError | TransientMailError:
    """The typed error of a refused token."""
    words = status.describe() or "no reason given"
    kind = classify(status)
    if kind is Refusal.TRANSIENT:
        return TransientMailError(f"{where}: the server cannot check OAuth tokens now: {words}", code=UNAVAILABLE_CODE)
    if kind is Refusal.CREDENTIALS:
        return MailAuthenticationError(
            f"{where}: the server refused the OAuth token for its audience or scope: {words}; check the app's "
            "permissions and the token audience of the email server profile",
            code=SCOPE_CODE,
        )
    again = " a newly issued one too" if renewed else ""
    return MailAuthenticationError(f"{where}: the server refused the OAuth token{again}: {words}", code=REFUSED_CODE)


def check_encrypted(tls: str, where: str) -> None:
    """Refuse to send a bearer token over an unencrypted link (``tls == "none"``).

    Unlike a password, an app-only token opens every mailbox the app was granted, and any host on the path
    could replay it until it expires: no profile setting sends one in the clear.
    """
    if tls == "none":
        raise SecureConnectionRequired(
            f"{where}: an OAuth token is sent only over an encrypted connection; use implicit TLS or STARTTLS",
            code="SecureConnectionRequired",
        )


def no_mechanism_error(where: str, offered: Iterable[str]) -> MailAuthenticationError:
    listed = " ".join(sorted(offered)) or "none"
    return MailAuthenticationError(
        f"{where}: the server offers no OAuth login (XOAUTH2 or OAUTHBEARER); it offers: {listed}",
        code=NO_MECHANISM_CODE,
    )
