"""Signing administrators in with Microsoft Entra ID: authorization code flow with PKCE, through MSAL.

MSAL builds the authorization URL with a fresh ``state``, ``nonce`` and PKCE verifier (the flow), asking for the
answer as a form post (the code then never sits in a URL), and on the callback checks the state, redeems the
code with the verifier and validates the ID token (audience = our client id, nonce, expiry). The person's app
roles come from the ID token's ``roles`` claim: the console uses the admin API's app registration, so
``Sync.Admin``, ``Sync.Reader`` and ``Sync.Approver`` mean here what they mean there. No access token is kept:
the console calls the service's functions directly, not an API on the person's behalf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msal
import requests

from sync.api.auth import PUBLIC_AUTHORITY
from sync.settings import Settings

SCOPES: list[str] = []  # MSAL adds openid, profile and offline_access: the ID token is all the console needs
TIMEOUT_SECONDS = 10.0


class SignInFailed(Exception):
    """The identity provider refused or the callback does not match a sign-in this app started."""


@dataclass(frozen=True)
class SignedIn:
    user_id: str
    name: str
    roles: frozenset[str]


def is_configured(settings: Settings) -> bool:
    secret = settings.console_client_secret
    return bool(settings.console_client_id and settings.api_tenant_id and secret and secret.get_secret_value())


class EntraSignIn:
    """One confidential client of the tenant; MSAL reads the tenant's OpenID metadata once, on first use."""

    def __init__(self, settings: Settings) -> None:
        if not is_configured(settings) or settings.console_client_secret is None:
            raise SignInFailed(
                "Entra ID sign-in is not configured (SYNC_CONSOLE_CLIENT_ID, SYNC_CONSOLE_CLIENT_SECRET)"
            )
        self._settings = settings
        self._client: Any = None

    def _app(self) -> Any:
        if self._client is None:
            settings = self._settings
            authority = settings.api_authority or PUBLIC_AUTHORITY
            session = requests.Session()
            session.trust_env = False  # the identity provider is reached directly, with our own trust
            session.verify = settings.extra_ca_file or True
            custom = {} if authority == PUBLIC_AUTHORITY else {"instance_discovery": False}
            secret = settings.console_client_secret
            assert secret is not None  # checked in __init__
            self._client = msal.ConfidentialClientApplication(
                settings.console_client_id,
                client_credential=secret.get_secret_value(),
                authority=f"{authority}/{settings.api_tenant_id}",
                http_client=session,
                timeout=TIMEOUT_SECONDS,
                **custom,
            )
        return self._client

    def start(self, redirect_uri: str, login_hint: str | None = None) -> dict[str, Any]:
        """MSAL's flow: ``auth_uri`` to send the browser to, ``state``, and the PKCE verifier to keep server-side."""
        flow: dict[str, Any] = self._app().initiate_auth_code_flow(
            SCOPES, redirect_uri=redirect_uri, login_hint=login_hint, response_mode="form_post"
        )
        return flow

    def finish(self, flow: dict[str, Any], answer: dict[str, str]) -> SignedIn:
        """Redeem the callback's code; raises :class:`SignInFailed` with the provider's own words."""
        try:
            result = self._app().acquire_token_by_auth_code_flow(flow, answer)
        except ValueError as exc:  # MSAL: state mismatch, or a callback without code
            raise SignInFailed(f"the sign-in answer does not match the sign-in started here: {exc}") from None
        except requests.RequestException as exc:
            raise SignInFailed(f"the identity provider cannot be reached: {type(exc).__name__}") from None
        if "error" in result:
            raise SignInFailed(f"{result.get('error')}: {result.get('error_description', '')}".strip())
        claims: dict[str, Any] = result.get("id_token_claims") or {}
        who = claims.get("oid") or claims.get("sub")
        if not who:
            raise SignInFailed("the ID token names nobody (no oid or sub claim)")
        roles = claims.get("roles") or []
        name = claims.get("name") or claims.get("preferred_username") or str(who)
        return SignedIn(str(who), str(name), frozenset(str(r) for r in roles if isinstance(r, str)))
