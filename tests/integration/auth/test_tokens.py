"""App-only tokens from a real issuer (the Entra ID mock over TLS) with the cache sealed in a real Table store."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import msal
import pytest

from devstack import TestCA, free_port
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.auth.secrets import SecretBox
from sync.auth.tokens import METADATA_REQUESTS, TOKEN_REQUESTS, TokenProvider, cache_context
from sync.mail.errors import MailAuthenticationError, PermanentMailError, TransientMailError
from sync.model.fields import utcnow
from sync.store import Store
from sync.store.names import Table
from sync.store.token_cache import TokenCacheKey

pytestmark = pytest.mark.integration

TENANT = "tokens-tenant"

Provider = Callable[[], TokenProvider]


@pytest.fixture(scope="module")
def entra(stack_dir: Path, test_ca: TestCA) -> Iterator[EntraMock]:
    with EntraMock(stack_dir / "entra-tokens", test_ca, tenant=TENANT) as mock:
        yield mock


@pytest.fixture
def new_provider(store: Store, secret_box: SecretBox, entra: EntraMock, test_ca: TestCA) -> Provider:
    """Each call is a cold start: a new provider (no app, no memory) on the same store."""
    return lambda: TokenProvider(store.token_cache, secret_box, entra.authority, str(test_ca.ca_cert))


@pytest.fixture
def scope() -> str:
    """A scope of the test's own, so tests sharing the app's cache row never see each other's tokens."""
    return f"api://resource-{uuid.uuid4().hex[:8]}/.default"


def _cache_key(entra: EntraMock) -> TokenCacheKey:
    return TokenCacheKey(entra.authority, TENANT, CLIENT_ID)


def test_a_token_is_issued_and_then_served_from_memory(new_provider: Provider, scope: str) -> None:
    provider = new_provider()
    token = provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    claims = jwt.decode(token.value, options={"verify_signature": False})
    assert claims["tid"] == TENANT and claims["azp"] == CLIENT_ID
    assert timedelta(minutes=55) < token.expires_on - utcnow() <= timedelta(hours=1)
    assert provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope).value == token.value
    assert provider.counter.total(TOKEN_REQUESTS) == 1


def test_a_cold_start_reuses_the_stored_token_without_asking_the_token_endpoint(
    new_provider: Provider, scope: str
) -> None:
    first = new_provider().token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    cold = new_provider()
    again = cold.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    assert again.value == first.value
    assert abs(again.expires_on - first.expires_on) < timedelta(seconds=5)
    assert cold.counter.total(TOKEN_REQUESTS) == 0
    assert cold.counter.total(METADATA_REQUESTS) == 1  # MSAL reads the tenant's metadata when it builds the app


def test_the_cache_row_is_sealed(
    new_provider: Provider, scope: str, store: Store, secret_box: SecretBox, entra: EntraMock
) -> None:
    token = new_provider().token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    key = _cache_key(entra)
    raw = store.account.table(Table.TOKEN_CACHE).get_entity(key.partition_key, key.row_key)
    stored = " ".join(str(value) for value in raw.values())
    assert token.value not in stored and token.value.split(".")[1] not in stored
    assert CLIENT_SECRET not in stored
    assert str(raw["sealed_cache"]).startswith("aesgcm1:")
    assert token.value in secret_box.open(raw["sealed_cache"], cache_context(key, CLIENT_SECRET))


def test_a_wrong_secret_is_refused_even_with_a_valid_token_in_store(new_provider: Provider, scope: str) -> None:
    new_provider().token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    with pytest.raises(MailAuthenticationError) as info:
        new_provider().token(TENANT, CLIENT_ID, "not-the-secret", scope)
    assert info.value.code == "InvalidClientCredentials"
    assert "AADSTS7000215" in str(info.value) and CLIENT_ID in str(info.value)
    assert "not-the-secret" not in str(info.value)


def test_an_unknown_client_is_refused(new_provider: Provider, scope: str) -> None:
    with pytest.raises(MailAuthenticationError) as info:
        new_provider().token(TENANT, "no-such-app", "whatever", scope)
    assert info.value.code == "InvalidClientCredentials"


def test_an_unreachable_authority_is_transient(store: Store, secret_box: SecretBox, test_ca: TestCA) -> None:
    authority = f"https://localhost:{free_port()}"
    provider = TokenProvider(store.token_cache, secret_box, authority, str(test_ca.ca_cert), timeout_seconds=2)
    with pytest.raises(TransientMailError) as info:
        provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, "api://resource/.default")
    assert authority in str(info.value) and CLIENT_SECRET not in str(info.value)


def test_an_untrusted_certificate_is_permanent(store: Store, secret_box: SecretBox, entra: EntraMock) -> None:
    provider = TokenProvider(store.token_cache, secret_box, entra.authority)  # the test CA is not trusted
    with pytest.raises(PermanentMailError) as info:
        provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, "api://resource/.default")
    assert info.value.code == "SecureConnectionFailed"


def _expire_stored_token(store: Store, box: SecretBox, key: TokenCacheKey, scope: str, left: timedelta) -> None:
    """Rewrite the stored cache, through MSAL's own cache API, so the scope's token has only ``left`` to live."""
    context = cache_context(key, CLIENT_SECRET)
    sealed = store.token_cache.load(key)
    assert sealed is not None
    cache = msal.SerializableTokenCache()
    cache.deserialize(box.open(sealed, context))
    entries = list(cache.search(cache.CredentialType.ACCESS_TOKEN, target=[scope]))
    assert len(entries) == 1
    expires_on = str(int(time.time() + left.total_seconds()))
    cache.modify(cache.CredentialType.ACCESS_TOKEN, entries[0], {"expires_on": expires_on})
    store.token_cache.save(key, box.seal(cache.serialize(), context))


@pytest.mark.parametrize(
    ("left", "refreshed"),
    [
        (timedelta(minutes=2), True),  # MSAL itself no longer serves a token this close to expiry
        (timedelta(minutes=7), True),  # MSAL would; our REFRESH_MARGIN (10 minutes) does not
        (timedelta(minutes=30), False),  # good for a while: served from the cache
    ],
)
def test_a_cached_token_close_to_expiry_is_refreshed(
    new_provider: Provider,
    scope: str,
    store: Store,
    secret_box: SecretBox,
    entra: EntraMock,
    left: timedelta,
    refreshed: bool,
) -> None:
    new_provider().token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    _expire_stored_token(store, secret_box, _cache_key(entra), scope, left)
    provider = new_provider()
    token = provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    assert provider.counter.total(TOKEN_REQUESTS) == (1 if refreshed else 0)
    lifetime = token.expires_on - utcnow()
    if refreshed:
        assert lifetime > timedelta(minutes=55)
        assert new_provider().token(TENANT, CLIENT_ID, CLIENT_SECRET, scope).value == token.value  # written back
    else:
        assert lifetime <= left


def test_a_forced_refresh_asks_entra_again_and_keeps_the_new_token(new_provider: Provider, scope: str) -> None:
    """A mail server refused the token: the cached one must not be served again, here or after a cold start."""
    provider = new_provider()
    provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope)
    renewed = provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope, force_refresh=True)
    assert provider.counter.total(TOKEN_REQUESTS) == 2
    assert provider.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope).value == renewed.value
    assert provider.counter.total(TOKEN_REQUESTS) == 2  # the new one is cached again
    cold = new_provider()
    assert cold.token(TENANT, CLIENT_ID, CLIENT_SECRET, scope).value == renewed.value
