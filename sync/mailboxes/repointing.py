"""Which stored secrets a change of a profile's endpoint invalidates — pure.

A password or client secret was given for one server. If an administrator (or whoever holds an admin
key) points the profile elsewhere and the stored secrets stayed, the next Test & Enable or cycle would
hand them to the new host: a mailbox password over IMAP, the service account in HTTP Basic, a client
secret's fresh bearer token to a Graph look-alike. So changing an endpoint field clears every secret
that endpoint protected, unless the same request sets a new one; and the mailboxes' own passwords, which
go to the profile's incoming and outgoing servers, are cleared when either endpoint moves (and when a
mailbox is moved to another profile without a new password).
"""

from __future__ import annotations

from collections.abc import Iterable

from sync.model import EmailServerProfile

SHARED_ENDPOINT = frozenset({"server_type", "use_autodiscover", "default_server_location", "exchange_api", "graph_url"})
INCOMING_ENDPOINT = frozenset({"incoming_server_location", "incoming_port", "incoming_tls"})
OUTGOING_ENDPOINT = frozenset(
    {"outgoing_server_location", "outgoing_port", "outgoing_tls", "use_same_settings_for_outgoing"}
)
TOKEN_AUDIENCE = frozenset(
    {"exchange_online_tenant_id", "oauth_client_id", "aad_resource_id", "oauth_token_endpoint"}
)  # the token endpoint receives the client secret and the service account's signed assertions

PROFILE_SECRETS = ("incoming_password", "outgoing_password", "oauth_client_secret", "google_service_account_key")


def changed_fields(stored: EmailServerProfile, changed: EmailServerProfile, names: Iterable[str]) -> set[str]:
    return {name for name in names if getattr(stored, name) != getattr(changed, name)}


def protecting_fields(secret: str, stored: EmailServerProfile, changed: EmailServerProfile) -> frozenset[str]:
    """The fields whose change invalidates ``secret`` (one of :data:`PROFILE_SECRETS`)."""
    if secret == "incoming_password":
        return SHARED_ENDPOINT | INCOMING_ENDPOINT
    if secret == "outgoing_password":
        same = stored.use_same_settings_for_outgoing or changed.use_same_settings_for_outgoing
        return SHARED_ENDPOINT | OUTGOING_ENDPOINT | (INCOMING_ENDPOINT if same else frozenset())
    # the client secret's (and the service account's) tokens go wherever mail is read or sent, for the audience,
    # tenant and token endpoint named
    return SHARED_ENDPOINT | INCOMING_ENDPOINT | OUTGOING_ENDPOINT | TOKEN_AUDIENCE


def secrets_to_clear(stored: EmailServerProfile, changed: EmailServerProfile) -> list[str]:
    """The profile secrets the change invalidates and does not replace (a new secret was sealed afresh)."""
    return [
        secret
        for secret in PROFILE_SECRETS
        if getattr(stored, secret) is not None
        and getattr(changed, secret) == getattr(stored, secret)  # not set again in the same request
        and changed_fields(stored, changed, protecting_fields(secret, stored, changed))
    ]


def moves_mailbox_credentials(stored: EmailServerProfile, changed: EmailServerProfile) -> bool:
    """Whether the mailboxes' own passwords would now go to another server."""
    return bool(changed_fields(stored, changed, SHARED_ENDPOINT | INCOMING_ENDPOINT | OUTGOING_ENDPOINT))
