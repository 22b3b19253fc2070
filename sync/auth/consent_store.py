"""A mailbox's consent: its refresh token, sealed like a password and bound to the profile and token endpoint.

The refresh token is sealed for its mailbox and field (``sync.auth.secrets``) and recorded with the profile whose
OAuth client received it and the token endpoint that issued it: it is only ever sent back to that endpoint, for
that profile. Moving the mailbox to another profile forgets it, as it forgets the password.
"""

from __future__ import annotations

from datetime import datetime

from sync.auth.secrets import SecretBox, open_field, seal_field
from sync.model import Mailbox

FIELD = "oauth_refresh_token"


def record_refresh_token(
    box: SecretBox, mailbox: Mailbox, refresh_token: str, *, profile_id: str, token_endpoint: str, now: datetime
) -> None:
    """Keep ``refresh_token`` on ``mailbox`` (mutates it), sealed, with what it is bound to."""
    seal_field(box, mailbox, FIELD, refresh_token)
    mailbox.oauth_refresh_token_profile_id = profile_id
    mailbox.oauth_refresh_token_endpoint = token_endpoint
    mailbox.oauth_consented_on = now


def forget_consent(mailbox: Mailbox) -> None:
    """Drop the mailbox's consent (mutates it)."""
    mailbox.oauth_refresh_token = None
    mailbox.oauth_refresh_token_profile_id = None
    mailbox.oauth_refresh_token_endpoint = None
    mailbox.oauth_consented_on = None


def usable_refresh_token(box: SecretBox, mailbox: Mailbox, *, profile_id: str, token_endpoint: str) -> str | None:
    """The plaintext refresh token when it was given for this profile and endpoint, else None."""
    if mailbox.oauth_refresh_token_profile_id != profile_id or mailbox.oauth_refresh_token_endpoint != token_endpoint:
        return None
    return open_field(box, mailbox, FIELD)
