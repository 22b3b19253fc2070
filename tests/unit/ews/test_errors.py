"""exchangelib's exceptions, typed for the health policy."""

import requests
from exchangelib import errors as ews

from sync.mail.errors import MailAuthenticationError, PermanentMailError, ServerBusy, TransientMailError
from sync.mail.ews.errors import DEFAULT_BACK_OFF_SECONDS, translate


def test_server_busy_carries_the_requested_back_off() -> None:
    error = translate(ews.ErrorServerBusy("busy", back_off=12.5), what="GetItem")
    assert isinstance(error, ServerBusy) and error.retry_after_seconds == 12.5


def test_server_busy_without_a_back_off_waits_a_minute() -> None:
    error = translate(ews.ErrorServerBusy("busy"), what="GetItem")
    assert isinstance(error, ServerBusy) and error.retry_after_seconds == DEFAULT_BACK_OFF_SECONDS


def test_a_401_is_an_authentication_error_with_the_documented_code() -> None:
    error = translate(ews.UnauthorizedError("Invalid credentials"), what="SyncFolderItems")
    assert isinstance(error, MailAuthenticationError)
    assert error.code == "Http server returned 401 Unauthorized exception"


def test_missing_impersonation_rights_are_an_authentication_error() -> None:
    assert isinstance(translate(ews.ErrorImpersonateUserDenied("no"), what="x"), MailAuthenticationError)


def test_a_403_is_permanent_with_the_documented_code() -> None:
    error = translate(ews.MalformedResponseError("Unknown failure in response. Code: 403 headers: {}"), what="x")
    assert isinstance(error, PermanentMailError) and error.code == "Http server returned Forbidden exception"


def test_network_failures_are_transient() -> None:
    assert isinstance(translate(requests.exceptions.ConnectionError("refused"), what="x"), TransientMailError)
    assert isinstance(translate(ews.ErrorInternalServerTransientError("503"), what="x"), TransientMailError)


def test_tls_failures_are_permanent() -> None:
    error = translate(requests.exceptions.SSLError("certificate verify failed"), what="x")
    assert isinstance(error, PermanentMailError) and error.code == "SecureConnectionFailed"


def test_the_message_names_the_call() -> None:
    assert "GetItem" in str(translate(ews.ErrorMailboxStoreUnavailable("down"), what="GetItem"))


def test_a_dropped_connection_reraised_as_server_busy_is_a_network_failure() -> None:
    exc = ews.ErrorServerBusy("Reraised from ErrorTimeoutExpired(Reraised from ConnectionError(RemoteDisconnected))")
    error = translate(exc, what="GetItem")
    assert type(error) is TransientMailError and error.code == "ConnectFailure"
