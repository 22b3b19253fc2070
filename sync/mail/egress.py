"""Where the service may connect: the addresses a server name resolves to, checked before connecting.

A profile names any host; without a check, Test & Enable or a cycle would connect to the cloud's metadata
service (169.254.169.254), to the app's own loopback, or to any private network the Functions app can
reach, and report what answered. So every outgoing connection of a mail connector resolves the name once,
checks each address, and connects to a checked address itself: no second lookup can return another one
(DNS rebinding).

Always refused: link-local (169.254.0.0/16, fe80::/10, which includes the metadata services), unspecified,
multicast, reserved and broadcast addresses, and the cloud platforms' own endpoints (Azure's 168.63.129.16).
Refused unless opted in: loopback (``SYNC_ALLOW_LOOPBACK_MAIL_HOSTS``, for the local stack and tests) and
private ranges (``SYNC_ALLOW_PRIVATE_MAIL_HOSTS``: RFC 1918, unique local IPv6, shared address space, for
Exchange and mail servers on premises reached through a virtual network).
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sync.mail.errors import PermanentMailError

REFUSED_CODE = "DestinationNotAllowed"
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PLATFORM_ENDPOINTS = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "168.63.129.16",  # Azure WireServer / platform DNS and health
        "100.100.100.200",  # Alibaba Cloud metadata
        "fd00:ec2::254",  # AWS metadata over IPv6
    )
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598


@dataclass(frozen=True)
class EgressPolicy:
    allow_private: bool = False
    allow_loopback: bool = False


class DestinationNotAllowed(PermanentMailError):
    """Every address the name resolves to is one the service may not connect to."""


def refusal(address: IpAddress, policy: EgressPolicy) -> str | None:
    """Why ``address`` may not be connected to (a short classified reason), or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:  # before "reserved": ::1 lies in IPv6's reserved ::/8
        return None if policy.allow_loopback else "a loopback address"
    never = (
        (address in PLATFORM_ENDPOINTS, "a cloud platform endpoint"),
        (address.is_link_local, "a link-local address (metadata services live there)"),
        (address.is_unspecified or address.is_multicast or address.is_reserved, "not a unicast host address"),
        (address == ipaddress.IPv4Address("255.255.255.255"), "not a unicast host address"),
    )
    reason = next((why for refused, why in never if refused), None)
    if reason is not None:
        return reason
    private = address.is_private or address in SHARED_ADDRESS_SPACE
    return "a private network address" if private and not policy.allow_private else None


_policy = EgressPolicy()
_policy_lock = threading.Lock()


def configure(policy: EgressPolicy) -> None:
    """Set the process's policy, from the settings at start-up (``Settings.egress_policy``)."""
    global _policy  # noqa: PLW0603 (one policy per process, like the trust store)
    with _policy_lock:
        _policy = policy


def current() -> EgressPolicy:
    return _policy


@contextmanager
def policy_in_effect(policy: EgressPolicy) -> Iterator[None]:
    """``policy`` for the duration of the block (tests of one policy in a process that uses another)."""
    previous = current()
    configure(policy)
    try:
        yield
    finally:
        configure(previous)


def resolve_allowed(host: str, port: int, policy: EgressPolicy | None = None) -> list[tuple[int, tuple[str, int]]]:
    """The (family, socket address) pairs of ``host`` that may be connected to; raises when there is none."""
    policy = policy or current()
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    allowed: list[tuple[int, tuple[str, int]]] = []
    reasons: list[str] = []
    for family, _, _, _, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = refusal(address, policy)
        if reason is None:
            allowed.append((family, (str(sockaddr[0]), int(sockaddr[1]))))
        else:
            reasons.append(reason)
    if not allowed:
        raise DestinationNotAllowed(
            f"{host}:{port}: the server resolves to {reasons[0] if reasons else 'no address'}; not connected",
            code=REFUSED_CODE,
        )
    return allowed


def connect(host: str, port: int, timeout: object = None, policy: EgressPolicy | None = None) -> socket.socket:
    """A TCP connection to a checked address of ``host`` (the first that answers), like ``create_connection``;
    ``timeout`` in seconds, or anything else (None, smtplib's default sentinel) for the socket default."""
    last: OSError | None = None
    for family, sockaddr in resolve_allowed(host, port, policy):
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        return sock
    assert last is not None  # resolve_allowed never returns an empty list
    raise last


class CheckedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose connection goes to a checked address of the host."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return connect(host, port, timeout)


class CheckedSMTPSSL(smtplib.SMTP_SSL, CheckedSMTP):
    """Implicit TLS over :class:`CheckedSMTP`'s socket (SMTP_SSL wraps what its parent's hook returns)."""
