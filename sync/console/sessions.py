"""Console sessions, one-time sign-in links and pending Entra ID sign-ins, kept server-side in one Table.

Table ``ConsoleSessions``; each row's RowKey is the SHA-256 digest of the secret the browser holds (the session
cookie, the link's token, the sign-in's ``state``), so the table never holds a usable secret:

- PartitionKey ``session``: who is signed in, their app roles, the session's CSRF token and its expiry;
- PartitionKey ``link``: a one-time sign-in link (``make dev`` prints it), redeemed once by an ETag-checked
  delete, so two browsers racing for the same link get one session;
- PartitionKey ``signin``: an Entra ID sign-in between the redirect to the identity provider and its callback
  (MSAL's flow with the PKCE verifier, sealed with the deployment's secret key).

Expired rows are refused when read and deleted then. A row never read again (a browser closed, a link not used,
a sign-in abandoned at the identity provider) is removed by a later write: each new row records its expiry in
the table's expiry index and sweeps a few expired rows (:mod:`sync.store.expiring_rows`), so the table holds
about the live rows without a timer or a scan.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from sync.auth.secrets import SecretBox
from sync.errors import StoreError
from sync.store.expiring_rows import ExpiringRows

SESSION_LIFETIME = timedelta(hours=8)  # a working day; then the administrator signs in again
LINK_LIFETIME = timedelta(hours=8)  # the link `make dev` prints stays usable for a day's run, once
SIGNIN_LIFETIME = timedelta(minutes=10)  # time to finish the identity provider's sign-in page
SESSION, LINK, SIGNIN = "session", "link", "signin"
FLOW_CONTEXT = b"console-signin-flow"  # binds a sealed MSAL flow to its purpose


@dataclass(frozen=True)
class ConsoleSession:
    """A signed-in person; ``csrf`` is the synchronizer token every state-changing form must send back."""

    user_id: str
    name: str
    roles: frozenset[str]
    csrf: str
    expires_on: datetime
    via: str  # "link" | "entra"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class SessionStore:
    """Creates and reads the console's rows; a storage failure surfaces as :class:`~sync.errors.StoreError`."""

    def __init__(self, table: TableClient, box: SecretBox, clock: Callable[[], datetime]) -> None:
        self.table = table
        self.box = box
        self.clock = clock
        self.expiring = ExpiringRows(table)

    # --- sessions --------------------------------------------------------------------------------------
    def open_session(self, user_id: str, name: str, roles: frozenset[str], via: str) -> tuple[str, ConsoleSession]:
        """A new session; returns the cookie value (only its digest is stored) and the session."""
        cookie = new_secret()
        session = ConsoleSession(
            user_id=user_id[:64], name=name[:200], roles=roles, csrf=new_secret(),
            expires_on=self.clock() + SESSION_LIFETIME, via=via,
        )  # fmt: skip
        self._create(SESSION, cookie, {
            "user_id": session.user_id, "name": session.name, "roles": ",".join(sorted(roles)),
            "csrf": session.csrf, "expires_on": session.expires_on, "via": via,
        })  # fmt: skip
        return cookie, session

    def session(self, cookie: str) -> ConsoleSession | None:
        """The live session of ``cookie``, or None (unknown, or expired and now deleted)."""
        entity = self._live(SESSION, cookie)
        if entity is None:
            return None
        roles = frozenset(role for role in str(entity.get("roles", "")).split(",") if role)
        return ConsoleSession(
            user_id=str(entity["user_id"]), name=str(entity.get("name", "")), roles=roles,
            csrf=str(entity["csrf"]), expires_on=entity["expires_on"], via=str(entity.get("via", "")),
        )  # fmt: skip

    def close_session(self, cookie: str) -> None:
        self._delete(SESSION, digest(cookie))

    # --- one-time links --------------------------------------------------------------------------------
    def mint_link(self, user_id: str, name: str, roles: frozenset[str]) -> str:
        """A sign-in token valid once within :data:`LINK_LIFETIME`; the caller builds the URL around it."""
        token = new_secret()
        self._create(LINK, token, {
            "user_id": user_id, "name": name, "roles": ",".join(sorted(roles)),
            "expires_on": self.clock() + LINK_LIFETIME,
        })  # fmt: skip
        return token

    def redeem_link(self, token: str) -> tuple[str, ConsoleSession] | None:
        """The session a link opens, or None when the link is unknown, expired or already used."""
        entity = self._take(LINK, token)
        if entity is None:
            return None
        roles = frozenset(role for role in str(entity.get("roles", "")).split(",") if role)
        return self.open_session(str(entity["user_id"]), str(entity.get("name", "")), roles, via="link")

    # --- pending Entra ID sign-ins ---------------------------------------------------------------------
    def save_signin(self, state: str, flow: dict[str, Any]) -> None:
        sealed = self.box.seal(json.dumps(flow), FLOW_CONTEXT)
        self._create(SIGNIN, state, {"flow": str(sealed), "expires_on": self.clock() + SIGNIN_LIFETIME})

    def take_signin(self, state: str) -> dict[str, Any] | None:
        """The MSAL flow started with ``state``, once; None when unknown, expired or already finished."""
        entity = self._take(SIGNIN, state)
        if entity is None:
            return None
        flow: dict[str, Any] = json.loads(self.box.open(str(entity["flow"]), FLOW_CONTEXT))
        return flow

    # --- rows ------------------------------------------------------------------------------------------
    def _create(self, partition: str, secret: str, fields: dict[str, Any]) -> None:
        try:
            self.expiring.note(partition, digest(secret), fields["expires_on"], self.clock())
            self.table.create_entity({"PartitionKey": partition, "RowKey": digest(secret), **fields})
        except AzureError as exc:
            raise StoreError(f"the console's {partition} row could not be written: {type(exc).__name__}") from exc

    def _live(self, partition: str, secret: str) -> Any:
        if not secret:
            return None
        try:
            entity = self.table.get_entity(partition, digest(secret))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StoreError(f"the console's {partition} row could not be read: {type(exc).__name__}") from exc
        if entity["expires_on"] <= self.clock() or entity.get("used_on") is not None:
            self._delete(partition, digest(secret))
            return None
        return entity

    def _take(self, partition: str, secret: str) -> Any:
        """Claim the row by an ETag-checked update, then delete it: exactly one caller gets it (a delete alone
        would not tell: the SDK reports deleting a row already gone as success)."""
        entity = self._live(partition, secret)
        if entity is None:
            return None
        claim = {"PartitionKey": partition, "RowKey": entity["RowKey"], "used_on": self.clock()}
        try:
            self.table.update_entity(
                claim,
                mode=UpdateMode.MERGE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceNotFoundError, ResourceModifiedError):
            return None  # someone else redeemed it first
        except AzureError as exc:
            raise StoreError(f"the console's {partition} row could not be claimed: {type(exc).__name__}") from exc
        self._delete(partition, entity["RowKey"])
        return entity

    def _delete(self, partition: str, row_key: str) -> None:
        try:
            self.table.delete_entity(partition, row_key)
        except AzureError as exc:
            raise StoreError(f"the console's {partition} row could not be deleted: {type(exc).__name__}") from exc
