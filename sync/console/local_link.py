"""The one-time sign-in link ``make dev`` prints (the pattern Jupyter uses): the console without an identity
provider, for whoever can read the terminal of the local stack."""

from __future__ import annotations

import getpass

from sync.api.auth import ADMIN_ROLE, APPROVER_ROLE, READER_ROLE
from sync.auth.secrets import SecretBox
from sync.console.sessions import SessionStore
from sync.model.fields import utcnow
from sync.settings import Settings
from sync.store.names import Table
from sync.store.store import Store

LINK_PATH = "/console/signin/link"
LOCAL_ROLES = frozenset({ADMIN_ROLE, APPROVER_ROLE, READER_ROLE})  # who runs the local stack owns all of it


def link_url(base_url: str, token: str) -> str:
    """The sign-in URL of ``token`` (``base_url`` without a trailing slash; empty for a path only)."""
    return f"{base_url}{LINK_PATH}?token={token}"


def mint_local_link(store: Store, settings: Settings, base_url: str) -> str:
    """A new one-time link for the local administrator; valid once, for :data:`~sync.console.sessions.LINK_LIFETIME`."""
    sessions = SessionStore(store.account.table(Table.CONSOLE_SESSIONS), SecretBox(settings.aes_key()), utcnow)
    token = sessions.mint_link(f"local:{getpass.getuser()}", f"{getpass.getuser()} (local)", LOCAL_ROLES)
    return link_url(base_url, token)
