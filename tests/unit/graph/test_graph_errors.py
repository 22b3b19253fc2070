"""Graph answers and transport failures in, typed mail errors out (pure: no server)."""

from __future__ import annotations

import datetime

import pytest
import requests
import urllib3.exceptions

from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError
from sync.mail.graph.client import BatchResponse, mailbox_key
from sync.mail.graph.errors import (
    DeltaExpired,
    GraphThrottled,
    OutcomeUnknown,
    error_for,
    graph_error,
    retry_after,
    transport_error,
)

WHERE = "GET /v1.0/users/a/messages"
NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def body(code: str, message: str = "m") -> dict[str, object]:
    return {"error": {"code": code, "message": message}}


@pytest.mark.parametrize(
    ("status", "code", "expected", "expected_code"),
    [
        (410, "", DeltaExpired, "SyncStateNotFound"),
        (410, "resyncRequired", DeltaExpired, "resyncRequired"),
        (400, "syncStateNotFound", DeltaExpired, "syncStateNotFound"),
        (429, "ApplicationThrottled", GraphThrottled, "ApplicationThrottled"),
        (503, "", GraphThrottled, "Throttled"),
        (401, "InvalidAuthenticationToken", MailAuthenticationError, "InvalidAuthenticationToken"),
        (403, "ErrorAccessDenied", MailAuthenticationError, "ErrorAccessDenied"),
        (500, "", TransientMailError, "ServerError"),
        (504, "GatewayTimeout", TransientMailError, "GatewayTimeout"),
        (404, "ErrorItemNotFound", PermanentMailError, "ErrorItemNotFound"),
        (400, "", PermanentMailError, "HTTP400"),
    ],
)
def test_status_and_code_choose_the_error(
    status: int, code: str, expected: type[MailServerError], expected_code: str
) -> None:
    error = error_for(status, body(code) if code else None, {}, WHERE)
    assert type(error) is expected
    assert error.code == expected_code


def test_the_message_names_the_call_the_status_and_graphs_request_id() -> None:
    error = error_for(404, body("ErrorItemNotFound", "gone"), {"request-id": "r-1"}, WHERE)
    assert str(error) == f"{WHERE}: HTTP 404 ErrorItemNotFound: gone (request-id r-1)"


def test_throttling_carries_retry_after_in_seconds() -> None:
    error = error_for(429, None, {"Retry-After": "12"}, WHERE)
    assert isinstance(error, GraphThrottled) and error.retry_after_seconds == 12.0


def test_delta_expired_is_neither_transient_nor_permanent() -> None:
    error = error_for(410, None, {}, WHERE)
    assert not isinstance(error, (TransientMailError, PermanentMailError))


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(value: str | None, seconds: float | None) -> None:
    assert retry_after(value, NOW) == seconds


@pytest.mark.parametrize("junk", [None, [], "text", {"error": "flat"}, {"other": 1}])
def test_a_body_without_graphs_error_object_gives_empty_code_and_message(junk: object) -> None:
    assert graph_error(junk) == ("", "")


def refused_connection() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


def dropped_reply() -> requests.ConnectionError:
    return requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError()))


@pytest.mark.parametrize(
    ("exc", "method", "expected", "code"),
    [
        (dropped_reply(), "POST", OutcomeUnknown, "OutcomeUnknown"),
        (requests.ReadTimeout("read timed out"), "POST", OutcomeUnknown, "OutcomeUnknown"),
        (refused_connection(), "POST", TransientMailError, "ConnectionFailed"),
        (requests.ConnectTimeout("connect timed out"), "POST", TransientMailError, "SocketTimedOut"),
        (dropped_reply(), "GET", TransientMailError, "ConnectionFailed"),
        (requests.ReadTimeout("read timed out"), "PATCH", TransientMailError, "SocketTimedOut"),
        (requests.exceptions.SSLError("bad certificate"), "POST", PermanentMailError, "SecureConnectionFailed"),
    ],
)
def test_transport_failures(
    exc: requests.RequestException, method: str, expected: type[MailServerError], code: str
) -> None:
    error = transport_error(exc, method, WHERE)
    assert type(error) is expected
    assert error.code == code


def test_a_batch_answer_is_an_error_value_only_when_it_failed() -> None:
    ok = BatchResponse(200, {"id": "1"}, {}, "GET /users/a/messages/1 (in a batch)")
    missing = BatchResponse(404, body("ErrorItemNotFound"), {}, "GET /users/a/messages/2 (in a batch)")
    assert ok.error() is None
    error = missing.error()
    assert isinstance(error, PermanentMailError) and error.code == "ErrorItemNotFound"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://graph.microsoft.com/v1.0/users/Alice%40Contoso.com/messages/AAMk=", "alice@contoso.com"),
        ("/users/alice@contoso.com/mailFolders/inbox/messages/delta", "alice@contoso.com"),
        ("https://graph.microsoft.com/v1.0/users('alice@contoso.com')/messages", "alice@contoso.com"),
        ("/USERS/0aaa-11/sendMail", "0aaa-11"),
        ("https://graph.microsoft.com/v1.0/$batch", ""),
        ("/me/messages?$filter=x eq '/users/bob'", ""),
    ],
)
def test_the_concurrency_bound_is_keyed_by_the_mailbox_in_the_url(url: str, key: str) -> None:
    assert mailbox_key(url) == key
