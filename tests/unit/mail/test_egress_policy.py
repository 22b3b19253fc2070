"""Which addresses a mail connection may reach, by default and with each opt-in."""

from __future__ import annotations

import ipaddress

import pytest

from sync.mail.egress import EgressPolicy, refusal

STRICT = EgressPolicy()
ON_PREMISES = EgressPolicy(allow_private=True)
LOCAL_STACK = EgressPolicy(allow_loopback=True)
EVERYTHING = EgressPolicy(allow_private=True, allow_loopback=True)

NEVER = [
    "169.254.169.254",  # instance metadata (Azure, AWS, GCP)
    "169.254.0.1",
    "fe80::1",
    "::ffff:169.254.169.254",  # the same, IPv4-mapped
    "168.63.129.16",  # Azure WireServer
    "fd00:ec2::254",  # AWS metadata over IPv6
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "255.255.255.255",
    "240.0.0.1",
]


@pytest.mark.parametrize("address", NEVER)
def test_never_even_with_every_opt_in(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), EVERYTHING) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_loopback_needs_its_own_opt_in(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal(ip, STRICT) == "a loopback address"
    assert refusal(ip, ON_PREMISES) == "a loopback address"
    assert refusal(ip, LOCAL_STACK) is None


@pytest.mark.parametrize("address", ["10.0.0.5", "172.16.0.1", "192.168.1.1", "fd12::1", "100.64.0.1"])
def test_private_ranges_need_the_on_premises_opt_in(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert refusal(ip, STRICT) == "a private network address"
    assert refusal(ip, LOCAL_STACK) == "a private network address"
    assert refusal(ip, ON_PREMISES) is None


@pytest.mark.parametrize("address", ["52.96.0.1", "2603:1036::1", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), STRICT) is None
