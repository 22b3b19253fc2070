"""How a consent started on the console's mailbox page ends: the way back to that page, and its message — pure.

The OAuth callback sends the browser back with the outcome as one word of a fixed vocabulary (``recorded`` or a
:class:`~sync.auth.consent_flow.ConsentFailure`), plus the provider's OAuth error code when it refused
(RFC 6749 §4.1.2.1). No code, state or token goes into that URL, and the page shows only sentences chosen here:
a made-up value shows nothing, so a crafted link cannot put its own words on the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sync.auth.consent_flow import ConsentFailure

OUTCOME_PARAM = "consent"
PROVIDER_ERROR_PARAM = "provider_error"
RECORDED = "recorded"

# RFC 6749 §4.1.2.1: the errors an authorization endpoint redirects with, in words.
PROVIDER_ERRORS = {
    "access_denied": "the person who signed in refused access (or cancelled)",
    "invalid_request": "the provider found the request malformed",
    "unauthorized_client": "the OAuth client may not use the authorization code flow",
    "unsupported_response_type": "the provider does not issue authorization codes to this client",
    "invalid_scope": "the provider refused the mail scopes the profile asks for",
    "server_error": "the provider had an internal error",
    "temporarily_unavailable": "the provider is temporarily unavailable",
    "consent_required": "the account needs an administrator's consent for this app first",
    "interaction_required": "the provider needs the person to sign in interactively",
    "login_required": "the provider needs the person to sign in",
}

FAILURES = {
    ConsentFailure.EXPIRED: "The consent took longer than 10 minutes and expired. Nothing was stored: connect again.",
    ConsentFailure.NO_CODE: "The identity provider sent no authorization code. Nothing was stored: connect again.",
    ConsentFailure.PROFILE_CHANGED: "The mailbox's email server profile (or its OAuth client) changed while the "
    "consent was open. Nothing was stored: connect again.",
    ConsentFailure.CODE_REJECTED: "The identity provider did not accept the authorization code (check the "
    "profile's OAuth client ID, secret and redirect URI). Nothing was stored: connect again.",
    ConsentFailure.NO_REFRESH_TOKEN: "The identity provider granted no refresh token (offline access). "
    "Nothing was stored: connect again.",
}


@dataclass(frozen=True)
class ConsentMessage:
    ok: bool
    text: str


def return_path(mailbox_id: str, outcome: ConsentFailure | None, provider_error: str | None = None) -> str:
    """The console page of ``mailbox_id`` telling how the consent ended (``None``: recorded)."""
    params = {OUTCOME_PARAM: RECORDED if outcome is None else outcome.value}
    if outcome is ConsentFailure.DENIED and provider_error:
        params[PROVIDER_ERROR_PARAM] = provider_error if provider_error in PROVIDER_ERRORS else "other"
    return f"/console/mailboxes/{quote(mailbox_id, safe='')}?{urlencode(params)}"


def message(outcome: str, provider_error: str = "") -> ConsentMessage | None:
    """The sentence for an outcome of :func:`return_path`; None for anything else."""
    if outcome == RECORDED:
        return ConsentMessage(True, "Consent recorded: the mailbox now signs in with it. Run Test & Enable to use it.")
    if outcome == ConsentFailure.DENIED.value:
        why = PROVIDER_ERRORS.get(provider_error, "the provider answered with an error")
        code = f" ({provider_error})" if provider_error in PROVIDER_ERRORS else ""
        return ConsentMessage(False, f"The identity provider did not grant access: {why}{code}. Nothing was stored.")
    known = {failure.value: text for failure, text in FAILURES.items()}
    return ConsentMessage(False, known[outcome]) if outcome in known else None
