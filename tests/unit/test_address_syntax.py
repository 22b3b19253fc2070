"""The one mailbox syntax (RFC 5321/6531): what is an address, and what never is."""

from __future__ import annotations

import pytest

from sync.model.address_syntax import InvalidAddress, canonical_mailbox, check_mailbox, is_mailbox

VALID = [
    "alice@example.test",
    "first.last+tag@sub.example.test",
    "o'brien@example.test",
    '"postmaster,x"@example.test',  # a quoted local part: one mailbox, sent as it is written
    '"john doe"@example.test',
    "jörg@bücher.example",  # RFC 6531 local part, IDN domain
    "user@[192.0.2.1]",
    "user@[IPv6:2001:db8::1]",
    "  padded@example.test  ",
]

INVALID = [
    "postmaster,x@evil.test",  # an unquoted comma: smtplib read it as a list and sent RCPT TO:<postmaster>
    "a@b@c.test",
    "no-at-sign",
    "@example.test",
    "user@",
    "a..b@example.test",
    ".a@example.test",
    "a.@example.test",
    "a b@example.test",
    "a\tb@example.test",
    '"a\u00a0b"@example.test',  # a no-break space looks like a space
    "a@exa mple.test",
    "a@-example.test",
    "a@example-.test",
    "a@exa_mple.test",
    "a@example..test",
    "a@[not-an-ip]",
    "<a@example.test>",
    "a(comment)@example.test",
    "a\x00b@example.test",  # NUL
    "a@example.test\r\nRCPT TO:<x@y>",  # CR LF
    "a\x7f@example.test",
    "admin\u202egro.elpmaxe@example.test",  # right-to-left override
    "ad\u2066min@example.test",  # left-to-right isolate
    "ad\u200bmin@example.test",  # zero-width space
    "ad\u200dmin@example.test",  # zero-width joiner
    "admin@exa\ufeffmple.test",  # BOM / zero-width no-break space
    '"quoted\u200b"@example.test',  # also inside quotes
    "x" * 65 + "@example.test",
    "a@" + ".".join(["a" * 63] * 4) + ".test",
    "a@" + "b" * 64 + ".test",
]


@pytest.mark.parametrize("address", VALID)
def test_valid(address: str) -> None:
    assert check_mailbox(address) == address.strip()


@pytest.mark.parametrize("address", INVALID)
def test_invalid(address: str) -> None:
    assert not is_mailbox(address)


def test_the_error_never_quotes_the_value() -> None:
    with pytest.raises(InvalidAddress) as caught:
        check_mailbox("hunter2-s3cret,x@evil.test")
    assert "hunter2" not in str(caught.value)


def test_the_wire_form_has_an_idna_lower_case_domain() -> None:
    assert canonical_mailbox("Jörg@Bücher.Example") == "Jörg@xn--bcher-kva.example"
