"""The audiences an app-only token may be asked for, and the hosts it may be sent to — pure.

A profile's ``aad_resource_id`` names the token's audience (``{resource}/.default``) and its
``graph_url`` where Graph requests, bearer token included, go. Left free, an administrator could ask
Entra for a token to any API the app registration is granted (Azure Resource Manager, Key Vault...) and
send it to any host. Allowed by default: Microsoft Graph and Exchange Online of the public and national
Microsoft clouds, a Graph URL in the same cloud as the audience. Exchange on premises (hybrid modern
authentication) or a test server needs the explicit ``SYNC_ALLOW_CUSTOM_TOKEN_AUDIENCES`` opt-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sync.model import EmailServerProfile


@dataclass(frozen=True)
class MicrosoftCloud:
    name: str
    graph: str  # the Graph resource (audience) and host
    exchange: tuple[str, ...]  # Exchange Online resources (audiences) of the cloud


CLOUDS = (
    MicrosoftCloud(
        "global", "https://graph.microsoft.com", ("https://outlook.office365.com", "https://outlook.office.com")
    ),
    MicrosoftCloud("us-gov-l4", "https://graph.microsoft.us", ("https://outlook.office365.us",)),
    MicrosoftCloud("us-gov-l5-dod", "https://dod-graph.microsoft.us", ("https://webmail.apps.mil",)),
    MicrosoftCloud("china", "https://microsoftgraph.chinacloudapi.cn", ("https://partner.outlook.cn",)),
)
ALLOWED_RESOURCES = frozenset(r for cloud in CLOUDS for r in (cloud.graph, *cloud.exchange))
GRAPH_HOSTS = {urlsplit(cloud.graph).hostname: cloud for cloud in CLOUDS}


class AudienceNotAllowed(ValueError):
    """A token audience or Graph URL outside the Microsoft clouds; ``field`` names the profile field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_token_audience(profile: EmailServerProfile) -> None:
    """Raise :class:`AudienceNotAllowed` unless the profile's audience and Graph URL are Microsoft's."""
    resource = _normalized(profile.aad_resource_id)
    if resource is not None and resource not in ALLOWED_RESOURCES:
        raise AudienceNotAllowed(
            "the token audience must be Microsoft Graph or Exchange Online of a Microsoft cloud "
            "(an on-premises audience needs SYNC_ALLOW_CUSTOM_TOKEN_AUDIENCES)",
            field="aad_resource_id",
        )
    if profile.graph_url is None:
        return
    parts = urlsplit(profile.graph_url)
    cloud = GRAPH_HOSTS.get(parts.hostname or "") if parts.scheme == "https" and parts.port is None else None
    if cloud is None:
        raise AudienceNotAllowed(
            "the Graph URL must be Microsoft Graph of a Microsoft cloud, over https "
            "(another host needs SYNC_ALLOW_CUSTOM_TOKEN_AUDIENCES)",
            field="graph_url",
        )
    if profile.uses_graph and resource is not None and resource != cloud.graph:
        raise AudienceNotAllowed("the token audience is not the Graph of the Graph URL's cloud", "aad_resource_id")


def _normalized(resource: str | None) -> str | None:
    return resource.strip().rstrip("/").lower() if resource else None
