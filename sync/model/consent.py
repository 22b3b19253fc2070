"""A per-mailbox OAuth consent in progress (authorization code with PKCE): what the callback needs, kept server-side.

The state the provider hands back is the only key to it (stored as a digest, so a storage reader cannot finish a
consent); the PKCE verifier is sealed. It is used once (an ETag-guarded claim) and expires after a few minutes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sync.model.base import Entity
from sync.model.fields import Sealed, Str36, Str80, Str256, Str2048


class ConsentOrigin(StrEnum):
    """Where a consent was started, so the callback answers the way its starter expects."""

    API = "api"  # the admin API: the callback answers JSON
    CONSOLE = "console"  # the console's mailbox page: the callback sends the browser back to it


class PendingConsent(Entity):
    """One consent started for a mailbox and not finished yet."""

    state_digest: Str80
    """SHA-256 (hex) of the state sent to the provider."""
    mailbox_id: Str36
    profile_id: Str36
    """The profile whose OAuth client the consent is for; the mailbox must still use it when the code comes back."""
    code_verifier: Sealed
    redirect_uri: Str2048
    token_endpoint: Str2048
    expires_on: datetime
    requested_by: Str256 | None = None
    started_from: ConsentOrigin = ConsentOrigin.API
    """Where the browser goes back to when the callback is done (no secret: it only picks the answer's form)."""
    claimed: bool = False
    """Set (by ETag) by the one callback that may use it."""
