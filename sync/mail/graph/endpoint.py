"""Where and how an Exchange Online mailbox is reached through Microsoft Graph — pure.

Graph is reached with the profile's app registration (client credentials through MSAL), like EWS for
Exchange Online; the token's scope is Graph's own (``https://graph.microsoft.com/.default``, or the
profile's ``aad_resource_id`` for a national cloud, with its ``graph_url``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.auth.secrets import SecretBox
from sync.mail.errors import PermanentMailError
from sync.mail.ews.endpoint import OAuthApp, oauth_app
from sync.mail.graph.client import GRAPH_V1
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import ServerType

GRAPH_RESOURCE = "https://graph.microsoft.com"


@dataclass(frozen=True)
class GraphEndpoint:
    address: str  # the mailbox (``/users/{address}``)
    base_url: str
    app: OAuthApp


def graph_endpoint(mailbox: Mailbox, profile: EmailServerProfile, box: SecretBox) -> GraphEndpoint:
    """The Graph endpoint of ``mailbox``; raises a typed MailServerError when the profile cannot work."""
    if profile.server_type is not ServerType.EXCHANGE_ONLINE:
        raise PermanentMailError(
            f"the profile {profile.name} is not an Exchange Online profile: Graph reaches Exchange Online only",
            code="NotExchangeOnlineProfile",
        )
    if not mailbox.email_address:
        raise PermanentMailError(f"the mailbox {mailbox.name} has no email address", code="MailboxAddressMissing")
    base_url = (profile.graph_url or GRAPH_V1).rstrip("/")
    if not base_url.lower().startswith("https://"):
        raise PermanentMailError(f"the Graph URL of the profile {profile.name} must be https", code="InvalidGraphUrl")
    return GraphEndpoint(mailbox.email_address, base_url, oauth_app(profile, box, default_resource=GRAPH_RESOURCE))
