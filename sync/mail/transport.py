"""What the line-protocol connectors (IMAP, POP3) share below the protocol: TLS and socket failures.

A failure at this level says nothing about the protocol, so both connectors classify it the same
way; each protocol module only adds the failures of its own commands (see ``map_imap_error`` and
``map_pop3_error``). The codes follow the Dynamics alert texts where one exists ("Socket returned
exception TimedOut", "InvalidIncomingEmailServerProfileConfiguration HostNotFound", spec §2.15.1).
"""

from __future__ import annotations

import base64
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal
from urllib.parse import quote, quote_plus

from sync.mail.errors import MailServerError, PermanentMailError, TransientMailError

TLS_MODES = ("implicit", "starttls", "none")
REDACTED = "********"

Stage = Literal["connect", "login", "session"]  # where a failure happened changes what a refusal means
ErrorMapper = Callable[[BaseException, str, Stage], MailServerError | None]
Kind = tuple[type[MailServerError], str, str]  # error class, alert code, what happened (for the message)

HOST_NOT_FOUND: Kind = (PermanentMailError, "HostNotFound", "host not found")
NAME_LOOKUP_AGAIN: Kind = (TransientMailError, "HostLookupFailed", "name lookup failed for now")  # EAI_AGAIN
# First match wins: SSLError and TimeoutError are OSErrors too. A TLS failure is permanent (a wrong CA or
# host name will not fix itself) except a TLS-level EOF, which is just a dropped link.
NETWORK_FAILURES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Kind], ...] = (
    ((ssl.SSLEOFError, ssl.SSLZeroReturnError), (TransientMailError, "ConnectionDropped", "connection dropped")),
    (ssl.SSLError, (PermanentMailError, "SecureConnectionFailed", "secure connection failed")),
    (TimeoutError, (TransientMailError, "SocketTimedOut", "socket timed out")),
    (
        (ConnectionResetError, ConnectionAbortedError, BrokenPipeError),
        (TransientMailError, "ConnectionDropped", "connection dropped"),
    ),
    (OSError, (TransientMailError, "ConnectionFailed", "cannot connect")),  # refused, host or network unreachable
)


def client_tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Certificate and hostname verification always on: the system trust store, plus ``ca_file`` (a private CA).

    ``ssl.create_default_context(cafile=...)`` would trust that file *instead of* the system store, so a
    deployment with a private CA for one server could no longer reach any publicly certified one.
    """
    context = ssl.create_default_context()  # loads the system's default CAs
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def map_network_error(exc: BaseException, where: str) -> MailServerError | None:
    """Classify a socket, DNS or TLS failure; ``None`` when ``exc`` is not one."""
    kind: Kind | None
    if isinstance(exc, socket.gaierror):
        kind = NAME_LOOKUP_AGAIN if exc.errno == socket.EAI_AGAIN else HOST_NOT_FOUND
    else:
        kind = next((kind for types, kind in NETWORK_FAILURES if isinstance(exc, types)), None)
    if kind is None:
        return None
    error_class, code, phrase = kind
    return error_class(f"{where}: {phrase}: {exc}", code=code)


@contextmanager
def typed_errors(mapper: ErrorMapper, where: str, secret: str, stage: Stage = "session") -> Iterator[None]:
    """Re-raise what ``mapper`` recognises as a typed mail error without ``secret``; anything else (a bug) as is."""
    try:
        yield
    except MailServerError:
        raise
    except Exception as exc:
        mapped = mapper(exc, where, stage)
        if mapped is None:
            raise
        raise type(mapped)(redact(str(mapped), secret), code=mapped.code) from exc


def redact(text: str, secret: str) -> str:
    """Remove ``secret`` from a message built from server or library text, in case either echoes it:
    as sent, URL-encoded, or inside base64 (an echoed ``AUTH PLAIN`` or HTTP Basic blob)."""
    if not secret:
        return text
    for form in sorted(encoded_forms(secret), key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


MIN_BASE64_CORE = 4  # shorter cores of a short secret would match unrelated base64 text


def encoded_forms(secret: str) -> set[str]:
    """``secret`` and the forms a server may echo it in.

    In base64, a secret inside a longer blob (``\0user\0password``) starts at one of three offsets
    within a 3-byte group; for each, the characters that depend on the secret's bytes alone are the same
    whatever surrounds it, so finding any of those three cores finds the secret.
    """
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe="")}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        first = (offset + 2) // 3  # groups touched by the padding bytes in front
        last = (offset + len(raw)) // 3  # groups made of the secret's bytes only end before this one
        core = encoded[4 * first : 4 * last]
        if len(core) >= MIN_BASE64_CORE:
            forms.add(core)
    return forms


def text_of(exc: BaseException) -> str:
    """An exception's message as text; imaplib and poplib carry the server line as bytes, and IMAPClient's
    ``LoginError(str(e))`` turns those bytes into their repr (``"b'[AUTHENTICATIONFAILED] ...'"``)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], bytes):
        return exc.args[0].decode("utf-8", "replace")
    text = str(exc)
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        return text[2:-1]
    return text
