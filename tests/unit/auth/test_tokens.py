"""The pure parts of token acquisition: error classification, the cache's key and binding, what a repr shows."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError

from sync.auth.tokens import AccessToken, cache_context, error_from_exception, error_from_result
from sync.mail.errors import MailAuthenticationError, PermanentMailError, TransientMailError
from sync.store.token_cache import TokenCacheKey

AUTHORITY = "https://login.microsoftonline.com"
KEY = TokenCacheKey(AUTHORITY, "contoso.onmicrosoft.com", "app-1")
ENTRA_DESCRIPTION = (
    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client "
    "secret value.\r\nTrace ID: 0f1e\r\nCorrelation ID: 9a8b\r\nTimestamp: 2026-11-24 10:00:00Z"
)


def _error(result: dict[str, Any]) -> Exception:
    return error_from_result(result, "contoso.onmicrosoft.com", "app-1")


@pytest.mark.parametrize(
    "result",
    [
        {"error": "invalid_client", "error_description": ENTRA_DESCRIPTION, "error_codes": [7000215]},
        {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
        {"error": "unauthorized_client", "error_description": "AADSTS700016: Application not found in the directory"},
        {"error": "invalid_request", "error_description": "something", "error_codes": [7000222]},
    ],
    ids=["wrong-secret", "wrong-secret-no-codes", "unknown-app", "expired-secret"],
)
def test_a_refused_client_is_an_authentication_error(result: dict[str, Any]) -> None:
    error = _error(result)
    assert isinstance(error, MailAuthenticationError)
    assert error.code == "InvalidClientCredentials"
    assert "app-1" in str(error) and "contoso.onmicrosoft.com" in str(error)


def test_the_message_keeps_the_first_line_of_entras_description() -> None:
    message = str(_error({"error": "invalid_client", "error_description": ENTRA_DESCRIPTION}))
    assert "AADSTS7000215: Invalid client secret provided." in message
    assert "Trace ID" not in message


@pytest.mark.parametrize("error", ["temporarily_unavailable", "server_error"])
def test_entra_saying_try_later_is_transient(error: str) -> None:
    assert isinstance(_error({"error": error}), TransientMailError)


@pytest.mark.parametrize(
    "result",
    [
        {"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for scope is not valid."},
        {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."},
        {},
    ],
)
def test_other_refusals_are_permanent(result: dict[str, Any]) -> None:
    error = _error(result)
    assert isinstance(error, PermanentMailError) and not isinstance(error, MailAuthenticationError)
    assert error.code == "TokenRequestRefused"


@pytest.mark.parametrize(
    "exc",
    [
        requests.ConnectionError("connection refused"),
        requests.Timeout("read timed out"),
        requests.HTTPError("503 Server Error: Service Unavailable"),
    ],
)
def test_network_failures_and_5xx_are_transient(exc: Exception) -> None:
    error = error_from_exception(exc, AUTHORITY)
    assert isinstance(error, TransientMailError)
    assert error.code == "IdentityProviderUnavailable" and AUTHORITY in str(error)


def _ssl_error(cause: ssl.SSLError) -> requests.exceptions.SSLError:
    """The chain requests builds: its SSLError, raised while handling urllib3's MaxRetryError from the ssl error."""
    retry = MaxRetryError(None, "/token", cause)  # type: ignore[arg-type]  # no pool needed here
    retry.__cause__ = cause
    exc = requests.exceptions.SSLError(retry)
    exc.__context__ = retry
    return exc


def test_an_untrusted_certificate_is_permanent() -> None:
    exc = _ssl_error(ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))
    error = error_from_exception(exc, AUTHORITY)
    assert isinstance(error, PermanentMailError) and error.code == "SecureConnectionFailed"


def test_a_dropped_tls_link_is_transient() -> None:
    error = error_from_exception(_ssl_error(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")), AUTHORITY)
    assert isinstance(error, TransientMailError)


def test_an_authority_msal_cannot_use_is_permanent() -> None:
    exc = ValueError("Unable to get authority configuration for https://login.example/x.\nMore text")
    error = error_from_exception(exc, AUTHORITY)
    assert isinstance(error, PermanentMailError) and error.code == "InvalidAuthority"
    assert "More text" not in str(error)


def test_an_access_token_repr_hides_the_value() -> None:
    token = AccessToken("eyJ0eXAi.secret-part.sig", datetime(2026, 11, 24, 12, tzinfo=UTC))
    assert "secret-part" not in repr(token)
    assert "2026" in repr(token)


def test_the_cache_is_bound_to_its_row_and_to_the_secret() -> None:
    other_tenant = TokenCacheKey(AUTHORITY, "fabrikam.onmicrosoft.com", "app-1")
    assert cache_context(KEY, "s1") == cache_context(KEY, "s1")
    assert cache_context(KEY, "s1") != cache_context(KEY, "s2")
    assert cache_context(KEY, "s1") != cache_context(other_tenant, "s1")
    assert b"s1" not in cache_context(KEY, "s1")


def test_the_row_key_names_host_and_tenant_and_escapes_what_tables_refuse() -> None:
    key = TokenCacheKey("https://localhost:8443", "tenant/1", "app#1")
    assert key.partition_key == "app%231"
    assert key.row_key == "localhost:8443|tenant%2F1"
    assert KEY.row_key == "login.microsoftonline.com|contoso.onmicrosoft.com"
