"""One mailbox syntax for every address the service stores or sends to (RFC 5321 §4.1.2, RFC 6531).

``local@domain`` where the local part is a dot-string (atoms of atext joined by single dots) or a
quoted string, and the domain is dot-separated host labels (an IDN label is accepted when it encodes to
IDNA) or an address literal. Internationalized addresses (UTF-8 local parts, RFC 6531) are kept.

Refused everywhere, quoted or not: control characters (NUL, CR, LF, ...), and every Unicode *format*
character, among them the bidi overrides and isolates (U+202A-U+202E, U+2066-U+2069) that make an
address read differently from what it is, and the zero-width characters (U+200B-U+200D, U+2060,
U+FEFF) that make two different addresses look the same.

Why strict: a lenient ``[^@\\s]+@[^@\\s]+`` let ``postmaster,x@evil.test`` through; ``smtplib`` parses
such a value again as an address *list* and sent ``RCPT TO:<postmaster>``, so the envelope differed
from the To header. With this syntax there is one reading of an address, and it is sent as checked.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

MAX_LOCAL_PART_OCTETS = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN_OCTETS = 255  # §4.5.3.1.2
MAX_PATH_OCTETS = 254  # 256 for the path, minus the angle brackets (RFC 5321 erratum 1690)
MAX_LABEL_OCTETS = 63

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"
_DOT_STRING = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_QUOTED_STRING = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"')
_ASCII_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class InvalidAddress(ValueError):
    """Not a mailbox address; the message names the rule broken, never the value (it may be a secret)."""


def check_mailbox(value: str) -> str:
    """``value`` (outer white space removed) when it is a mailbox address; :class:`InvalidAddress` if not."""
    address = value.strip()
    unsafe = _unsafe_character(address)
    if unsafe:
        raise InvalidAddress(f"an email address may not contain {unsafe}")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise InvalidAddress("not an email address: local-part@domain expected")
    if not (_DOT_STRING.fullmatch(local) or _QUOTED_STRING.fullmatch(local)):
        raise InvalidAddress("not an email address: the part before @ is not a valid local part")
    if len(local.encode()) > MAX_LOCAL_PART_OCTETS:
        raise InvalidAddress(f"the part before @ is longer than {MAX_LOCAL_PART_OCTETS} bytes")
    ascii_domain = _ascii_domain(domain)
    if len(local.encode()) + 1 + len(ascii_domain) > MAX_PATH_OCTETS:
        raise InvalidAddress(f"an email address is at most {MAX_PATH_OCTETS} bytes")
    return address


def canonical_mailbox(value: str) -> str:
    """The checked address as it goes on the wire: the domain lower-cased and IDNA-encoded."""
    address = check_mailbox(value)
    local, _, domain = address.rpartition("@")
    return f"{local}@{_ascii_domain(domain).lower()}"


def is_mailbox(value: str) -> bool:
    try:
        check_mailbox(value)
    except InvalidAddress:
        return False
    return True


def _unsafe_character(text: str) -> str:
    """A description of the first character no address may hold ('' when there is none)."""
    for char in text:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            kind = "control" if category == "Cc" else "invisible or direction-changing"
            return f"{kind} characters (U+{ord(char):04X})"
        if char.isspace() and char != " ":  # a plain space is valid in a quoted local part only (the syntax says)
            return f"white space (U+{ord(char):04X})"
    return ""


def _ascii_domain(domain: str) -> str:
    """The domain in ASCII (IDNA for Unicode labels), checked label by label; or an address literal."""
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        try:
            ipaddress.ip_address(literal[5:] if literal[:5].lower() == "ipv6:" else literal)
        except ValueError:
            raise InvalidAddress("not an email address: the domain literal is not an IP address") from None
        return domain
    labels = domain.split(".")
    encoded = [_ascii_label(label) for label in labels]
    ascii_domain = ".".join(encoded)
    if len(ascii_domain) > MAX_DOMAIN_OCTETS:
        raise InvalidAddress(f"the domain is longer than {MAX_DOMAIN_OCTETS} bytes")
    return ascii_domain


def _ascii_label(label: str) -> str:
    if label.isascii():
        ascii_label = label
    else:
        try:
            ascii_label = label.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidAddress("not an email address: a domain label cannot be encoded (IDNA)") from None
    if not _ASCII_LABEL.fullmatch(ascii_label) or len(ascii_label) > MAX_LABEL_OCTETS:
        raise InvalidAddress("not an email address: the domain is not a host name")
    return ascii_label
