"""SASL bearer-token logins, the pure part: what is sent, which mechanism, what a refusal calls for."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from sync.mail.errors import MailAuthenticationError, TransientMailError
from sync.mail.sasl import (
    OAUTHBEARER,
    XOAUTH2,
    BearerExchange,
    BearerRefused,
    BearerStatus,
    Refusal,
    choose_mechanism,
    classify,
    initial_response,
    login_with_token,
    parse_challenge,
)


def test_what_each_mechanism_sends() -> None:
    assert initial_response(XOAUTH2, "a@x.test", "t0k", "imap.x", 993) == b"user=a@x.test\x01auth=Bearer t0k\x01\x01"
    sent = initial_response(OAUTHBEARER, "a,b=c@x.test", "t0k", "imap.x", 993)
    assert sent == b"n,a=a=2Cb=3Dc@x.test,\x01host=imap.x\x01port=993\x01auth=Bearer t0k\x01\x01"


def test_the_first_preferred_mechanism_the_server_offers() -> None:
    assert choose_mechanism(["PLAIN", "oauthbearer", "XOAUTH2"]) == XOAUTH2
    assert choose_mechanism(["PLAIN", "OAUTHBEARER"]) == OAUTHBEARER
    assert choose_mechanism(["PLAIN", "XOAUTH2"], (OAUTHBEARER,)) is None


def test_an_error_challenge_is_read_encoded_or_not() -> None:
    document = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}
    encoded = base64.b64encode(json.dumps(document).encode())
    assert parse_challenge(encoded) == BearerStatus("401", "https://mail.google.com/")
    assert parse_challenge(json.dumps({"status": "invalid_token"}).encode()).status == "invalid_token"
    assert parse_challenge(b"not json at all") == BearerStatus()


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        ("401", Refusal.NEW_TOKEN),
        ("400", Refusal.NEW_TOKEN),  # Gmail's answer to an expired token
        ("invalid_token", Refusal.NEW_TOKEN),
        ("", Refusal.NEW_TOKEN),  # Exchange Online's bare "AUTHENTICATE failed"
        ("403", Refusal.CREDENTIALS),
        ("insufficient_scope", Refusal.CREDENTIALS),
        ("503", Refusal.TRANSIENT),
        ("temporarily_unavailable", Refusal.TRANSIENT),
    ],
)
def test_what_a_refusal_calls_for(status: str, refusal: Refusal) -> None:
    assert classify(BearerStatus(status)) is refusal


def test_the_exchange_acknowledges_an_error_challenge_and_keeps_it() -> None:
    exchange = BearerExchange(OAUTHBEARER, "a@x.test", "t0k", "imap.x", 993)
    assert exchange(b"").startswith(b"n,a=a@x.test,")
    assert exchange(b'{"status":"invalid_token"}') == b"\x01"  # RFC 7628's dummy response
    refused = exchange.refused("NO [AUTHENTICATIONFAILED] Authentication failed.")
    assert refused.status == BearerStatus("invalid_token", "", "NO [AUTHENTICATIONFAILED] Authentication failed.")


def _server(answers: dict[str, BearerStatus | None]) -> tuple[list[str], Callable[[str], str]]:
    tried: list[str] = []

    def attempt(token: str) -> str:
        tried.append(token)
        status = answers[token]
        if status is not None:
            raise BearerRefused(status)
        return token

    return tried, attempt


def test_a_refused_token_is_replaced_once() -> None:
    tried, attempt = _server({"old": BearerStatus("401", "", "NO denied"), "new": None})
    assert login_with_token(lambda renew: "new" if renew else "old", attempt, "IMAP x") == "new"
    assert tried == ["old", "new"]


def test_a_second_refusal_is_a_credentials_error_with_the_servers_words() -> None:
    tried, attempt = _server({"old": BearerStatus("401", "", "NO denied"), "new": BearerStatus("401", "", "NO denied")})
    with pytest.raises(MailAuthenticationError, match=r"newly issued one too: NO denied \(status 401\)") as caught:
        login_with_token(lambda renew: "new" if renew else "old", attempt, "IMAP x")
    assert caught.value.code == "OAuthTokenRejected" and tried == ["old", "new"]


def test_a_scope_refusal_or_a_busy_server_asks_for_no_new_token() -> None:
    tried, attempt = _server({"old": BearerStatus("insufficient_scope", "mail", "535 5.7.8 wrong audience")})
    with pytest.raises(MailAuthenticationError, match=r"535 5\.7\.8 wrong audience") as caught:
        login_with_token(lambda renew: "old", attempt, "SMTP x")
    assert caught.value.code == "OAuthTokenScopeRejected" and tried == ["old"]
    tried, attempt = _server({"old": BearerStatus("503", "", "NO try later")})
    with pytest.raises(TransientMailError):
        login_with_token(lambda renew: "old", attempt, "IMAP x")
    assert tried == ["old"]
