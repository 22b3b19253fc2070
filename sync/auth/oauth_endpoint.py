"""One request to an OAuth 2.0 token endpoint (RFC 6749 §5), its refusals typed for the health policy.

- ``invalid_grant``: the code or refresh token is expired, used or revoked (the user removed the app's access,
  changed their password, an administrator revoked it): :class:`ConsentRevoked`, a credentials failure, so the
  mailbox's alert asks for consent again and the direction is disabled, as for a wrong password;
- ``invalid_client`` / ``unauthorized_client``: the profile's client id or secret is wrong: credentials too;
- a 5xx, ``temporarily_unavailable``, ``server_error`` or no answer: transient;
- anything else: permanent.

The form carries secrets (client secret, refresh token, code, verifier): no message and no log line here
shows it, and requests' exceptions (which hold the request) are never chained.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from sync.auth.tokens import error_from_exception
from sync.mail.errors import MailAuthenticationError, MailServerError, PermanentMailError, TransientMailError

TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "internal_failure"})
CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
REVOKED_CODE = "OAuthConsentRevoked"
MAX_DESCRIPTION_CHARS = 200


class ConsentRevoked(MailAuthenticationError):
    """The provider refused the refresh token or code (``invalid_grant``)."""

    code = REVOKED_CODE


def refusal(status: int, body: Mapping[str, Any], where: str) -> MailServerError:
    """The typed error for a token endpoint's error answer — pure."""
    error = str(body.get("error") or f"HTTP {status}")
    description = " ".join(str(body.get("error_description") or "").split())[:MAX_DESCRIPTION_CHARS]
    detail = f"{error}: {description}" if description else error
    if error == "invalid_grant":
        return ConsentRevoked(f"{where} refused the grant ({detail})", code=REVOKED_CODE)
    if error in CLIENT_ERRORS:
        return MailAuthenticationError(
            f"{where} refused the OAuth client ({detail}); check the profile's oauth_client_id and oauth_client_secret",
            code="InvalidClientCredentials",
        )
    if status >= 500 or error in TRANSIENT_ERRORS:
        return TransientMailError(f"{where} could not issue a token now ({detail})", code="IdentityProviderUnavailable")
    return PermanentMailError(f"{where} refused a token ({detail})", code="TokenRequestRefused")


def request_token(session: requests.Session, url: str, form: Mapping[str, str]) -> dict[str, Any]:
    """POST ``form`` to ``url``; the JSON answer with an ``access_token``, or a typed MailServerError."""
    where = f"the identity provider {url}"
    try:
        response = session.post(url, data=dict(form), headers={"Accept": "application/json"}, allow_redirects=False)
    except requests.RequestException as exc:
        raise error_from_exception(exc, url) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    if response.status_code != 200 or "error" in body:
        raise refusal(response.status_code, body, where)
    if not isinstance(body.get("access_token"), str):
        raise PermanentMailError(f"{where} answered without an access token", code="TokenRequestRefused")
    return body
