"""MsalCredentials with a stand-in token source: what exchangelib sees, and when it asks for a new token."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from exchangelib.protocol import BaseProtocol
from oauthlib.oauth2 import TokenExpiredError  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.clients import base as oauthlib_client  # type: ignore[import-untyped]

from sync.auth.tokens import REFRESH_MARGIN, AccessToken
from sync.mail.errors import MailAuthenticationError
from sync.mail.ews.credentials import EXPIRY_MARGIN, MsalCredentials, token_dict
from sync.model.fields import utcnow

EWS_URL = "https://ews.example.test/EWS/Exchange.asmx"


class FakeFetch:
    """Issues a new token of the given lifetime per call (the last lifetime repeats) and keeps them."""

    def __init__(self, *lifetimes: timedelta) -> None:
        self.lifetimes = list(lifetimes)
        self.issued: list[AccessToken] = []

    def __call__(self) -> AccessToken:
        lifetime = self.lifetimes[min(len(self.issued), len(self.lifetimes) - 1)]
        token = AccessToken(f"token-{len(self.issued) + 1}", utcnow() + lifetime)
        self.issued.append(token)
        return token


def _clock_at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """oauthlib decides expiry with ``time.time()`` in its client module: move that clock only."""
    monkeypatch.setattr(oauthlib_client, "time", SimpleNamespace(time=moment.timestamp))


def test_the_first_token_is_fetched_at_once_and_shaped_for_exchangelib() -> None:
    fetch = FakeFetch(timedelta(hours=1))
    credentials = MsalCredentials(fetch)
    token = credentials.access_token
    assert len(fetch.issued) == 1
    assert token["access_token"] == "token-1" and token["token_type"] == "Bearer"
    assert token["expires_at"] == (fetch.issued[0].expires_on - EXPIRY_MARGIN).timestamp()
    assert 3000 < token["expires_in"] <= 3600 - EXPIRY_MARGIN.total_seconds()


def test_exchangelib_asks_for_a_new_token_before_the_old_one_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    fetch = FakeFetch(timedelta(hours=1))
    credentials = MsalCredentials(fetch)
    first = fetch.issued[0]
    session = BaseProtocol.raw_session(  # the session exchangelib builds for OAuth credentials
        EWS_URL, oauth2_client=credentials.client, oauth2_session_params=credentials.session_params()
    )

    _clock_at(monkeypatch, first.expires_on - EXPIRY_MARGIN - timedelta(seconds=1))
    _, headers, _ = credentials.client.add_token(EWS_URL, http_method="POST")
    assert headers["Authorization"] == "Bearer token-1"

    _clock_at(monkeypatch, first.expires_on - EXPIRY_MARGIN + timedelta(seconds=1))  # Exchange would still accept it
    with pytest.raises(TokenExpiredError):
        session.post(EWS_URL)  # raised before anything is sent: exchangelib then calls refresh() and resends
    credentials.refresh(session)
    assert credentials.access_token["access_token"] == "token-2"
    assert len(fetch.issued) == 2


def test_a_token_shorter_lived_than_the_margin_keeps_its_real_expiry() -> None:
    now = utcnow()
    token = AccessToken("short", now + EXPIRY_MARGIN - timedelta(minutes=1))
    assert token_dict(token, now)["expires_at"] == token.expires_on.timestamp()


def test_the_margin_leaves_the_provider_room_to_fetch_a_new_token() -> None:
    assert EXPIRY_MARGIN < REFRESH_MARGIN


def test_the_hash_holds_across_refreshes_while_the_signature_follows_the_token() -> None:
    credentials = MsalCredentials(FakeFetch(timedelta(hours=1)))
    before, signature = hash(credentials), credentials.sig()
    assert credentials.client is not None  # exchangelib caches its oauthlib client on the instance
    credentials.refresh(session=None)
    assert hash(credentials) == before
    assert credentials.sig() != signature  # how exchangelib tells that another thread refreshed already


def test_credentials_with_the_same_fetch_are_equal_so_exchangelib_shares_a_protocol() -> None:
    fetch = FakeFetch(timedelta(hours=1))
    first, second = MsalCredentials(fetch), MsalCredentials(fetch)
    assert first == second and hash(first) == hash(second)
    assert first != MsalCredentials(FakeFetch(timedelta(hours=1)))
    assert len({("endpoint", first), ("endpoint", second)}) == 1


def test_the_token_shows_in_no_repr() -> None:
    credentials = MsalCredentials(FakeFetch(timedelta(hours=1)))
    assert "token-1" not in repr(credentials) and "token-1" not in str(credentials)


def test_a_refused_token_request_surfaces_as_the_typed_error() -> None:
    def refused() -> AccessToken:
        raise MailAuthenticationError("refused", code="InvalidClientCredentials")

    with pytest.raises(MailAuthenticationError):
        MsalCredentials(refused)
