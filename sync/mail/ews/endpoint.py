"""Where and how a mailbox reaches Exchange Web Services, read from its profile (R-PROV-8..11, 17) — pure.

Nothing is probed: the EWS version and the authentication scheme come from the profile, so the first
request is a real one (exchangelib otherwise guesses the version with ConvertId calls and the scheme
with unauthenticated POSTs). Exchange Online is reached with an app registration's client credentials
(MSAL) and impersonation, the analogue of Dynamics' server-to-server authentication (R-PROV-9);
Exchange Server on premises with a service account (profile credentials, impersonation when the
profile says so) or the mailbox's own credentials, over NTLM or Basic (R-PROV-11).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from sync.auth.secrets import SecretBox, open_field
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import utcnow
from sync.model.options import AuthenticationProtocol, CredentialRetrieval, ExchangeVersion, ServerType

EXCHANGE_ONLINE_URL = "https://outlook.office365.com/EWS/Exchange.asmx"
EWS_REMOVED_FROM_EXCHANGE_ONLINE = date(2027, 4, 1)  # Microsoft's date; allow-listed apps keep EWS until then
EXCHANGE_ONLINE_RESOURCE = "https://outlook.office365.com"
OAUTH_RETRIEVALS = (
    CredentialRetrieval.SERVER_TO_SERVER,
    CredentialRetrieval.AZURE_AD_OAUTH,
    CredentialRetrieval.EXCHANGE_HYBRID_MODERN_AUTH,
)
UNSUPPORTED_VERSIONS = (  # R-PROV-11: Exchange 2007 and 2010 are not supported
    ExchangeVersion.EXCHANGE_2007,
    ExchangeVersion.EXCHANGE_2007_SP1,
    ExchangeVersion.EXCHANGE_2010,
    ExchangeVersion.EXCHANGE_2010_SP1,
    ExchangeVersion.EXCHANGE_2010_SP2,
)


class EwsAuth(StrEnum):
    BASIC = "basic"
    NTLM = "ntlm"
    OAUTH = "oauth"


class EwsVersion(StrEnum):
    """The RequestServerVersion we pin (no probing)."""

    EXCHANGE_2013_SP1 = "Exchange2013_SP1"  # the oldest supported on premises; 2016 and 2019 accept it
    EXCHANGE_ONLINE = "Exchange Online"


@dataclass(frozen=True)
class OAuthApp:
    """An Entra app registration allowed to impersonate mailboxes (full_access_as_app)."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = f"{EXCHANGE_ONLINE_RESOURCE}/.default"


@dataclass(frozen=True)
class EwsEndpoint:
    """One mailbox's EWS connection; secrets are plaintext here and live only in memory (never in repr)."""

    address: str  # the mailbox's primary SMTP address (also the X-AnchorMailbox)
    url: str | None  # None: found by autodiscover (R-TE-6)
    auth: EwsAuth
    version: EwsVersion
    impersonation: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    oauth: OAuthApp | None = None
    timeout_seconds: float | None = None

    @property
    def scope(self) -> str:
        """What the connection's limits count per: the login (service account or app) and the server."""
        login = self.oauth.client_id if self.oauth else (self.username or self.address)
        return f"{self.url or 'autodiscover'}|{login}".lower()


def ews_endpoint(
    mailbox: Mailbox, profile: EmailServerProfile, box: SecretBox, *, outgoing: bool = False,
    today: date | None = None,
) -> EwsEndpoint:  # fmt: skip
    """The EWS endpoint of ``mailbox``; raises a typed MailServerError when the profile cannot work."""
    if (
        profile.server_type is ServerType.EXCHANGE_ONLINE
        and (today or utcnow().date()) >= EWS_REMOVED_FROM_EXCHANGE_ONLINE
    ):
        raise PermanentMailError(
            f"EWS was removed from Exchange Online on {EWS_REMOVED_FROM_EXCHANGE_ONLINE.isoformat()}: set the profile "
            f"{profile.name} to use Microsoft Graph (exchange_api GRAPH)",
            code="EwsRetired",
        )
    if not profile.server_type.is_exchange:
        raise PermanentMailError(f"the profile {profile.name} is not an Exchange profile", code="NotExchangeProfile")
    if not mailbox.email_address:
        raise PermanentMailError(f"the mailbox {mailbox.name} has no email address", code="MailboxAddressMissing")
    own = outgoing and not profile.use_same_settings_for_outgoing
    retrieval = profile.outgoing_credential_retrieval if own else profile.incoming_credential_retrieval
    protocol = profile.outgoing_authentication_protocol if own else profile.incoming_authentication_protocol
    online = profile.server_type is ServerType.EXCHANGE_ONLINE
    url = _url(profile, own, online)
    version = _version(profile, online)
    address, timeout = mailbox.email_address, profile.connection_timeout_seconds
    try:
        if retrieval in OAUTH_RETRIEVALS or protocol is AuthenticationProtocol.OAUTH:
            oauth = oauth_app(profile, box)
            return EwsEndpoint(address, url, EwsAuth.OAUTH, version, True, oauth=oauth, timeout_seconds=timeout)
        if online:  # Basic authentication is off in Exchange Online since October 2022
            raise PermanentMailError(
                f"the Exchange Online profile {profile.name} must use OAuth (server-to-server) credentials",
                code="UnsupportedCredentialRetrieval",
            )
        auth = EwsAuth.BASIC if protocol is AuthenticationProtocol.BASIC else EwsAuth.NTLM
        if retrieval is CredentialRetrieval.EMAIL_SERVER_PROFILE:
            username = profile.outgoing_username if own else profile.incoming_username
            password = open_field(box, profile, "outgoing_password" if own else "incoming_password")
            impersonation = profile.outgoing_use_impersonation if own else profile.incoming_use_impersonation
        elif retrieval is CredentialRetrieval.USER_OR_QUEUE:
            if not mailbox.allow_credentials_for_email_processing:
                raise MailAuthenticationError(
                    f"the mailbox {mailbox.name} does not allow its credentials to be used for email processing",
                    code="CredentialsNotAllowed",
                )
            username, password, impersonation = (
                mailbox.username or mailbox.email_address,
                open_field(box, mailbox, "password") if mailbox.password_is_for(profile.id) else None,
                False,
            )
        else:
            raise PermanentMailError(
                f"credential retrieval {retrieval.name} is not available for Exchange profiles",
                code="UnsupportedCredentialRetrieval",
            )
    except SecretError as exc:
        raise MailAuthenticationError(
            f"a stored secret cannot be decrypted: {exc}", code="CredentialsUnreadable"
        ) from None
    if not username or password is None:
        raise MailAuthenticationError(f"no username or password is set for {mailbox.name}", code="CredentialsMissing")
    if "\\" in username:  # R-PROV-17: EWS answers ErrorNonExistentMailbox to DOMAIN\user
        raise MailAuthenticationError(
            f"the user name {username} must be in UPN form (user@contoso.com), not DOMAIN\\user",
            code="ErrorNonExistentMailbox",
        )
    return EwsEndpoint(address, url, auth, version, impersonation, username, password, timeout_seconds=timeout)


def _url(profile: EmailServerProfile, outgoing: bool, online: bool) -> str | None:
    if profile.use_autodiscover:
        return None
    location = (profile.outgoing_server_location if outgoing else profile.incoming_server_location) or (
        profile.default_server_location
    )
    if not location:
        if online:
            return EXCHANGE_ONLINE_URL
        raise PermanentMailError(
            f"the profile {profile.name} has no EWS URL and does not use autodiscover",
            code="InvalidIncomingEmailServerProfileConfiguration",
        )
    if not location.lower().startswith("https://") and not profile.allow_plaintext:
        raise PermanentMailError(
            f"the EWS URL of the profile {profile.name} must be https (or the profile must allow plaintext)",
            code="InvalidIncomingEmailServerProfileConfiguration",
        )
    return location


def _version(profile: EmailServerProfile, online: bool) -> EwsVersion:
    if online:
        return EwsVersion.EXCHANGE_ONLINE
    if profile.exchange_version in UNSUPPORTED_VERSIONS:
        raise PermanentMailError(
            f"Exchange version {profile.exchange_version.name if profile.exchange_version else ''} is not supported; "
            "use Exchange 2013 SP1 or later",
            code="UnsupportedExchangeVersion",
        )
    return EwsVersion.EXCHANGE_2013_SP1


def oauth_app(
    profile: EmailServerProfile, box: SecretBox, *, default_resource: str = EXCHANGE_ONLINE_RESOURCE
) -> OAuthApp:
    """The profile's app registration; the token is for ``aad_resource_id`` when set, else ``default_resource``."""
    secret = open_field(box, profile, "oauth_client_secret")
    if not profile.exchange_online_tenant_id or not profile.oauth_client_id or secret is None:
        raise MailAuthenticationError(
            f"the profile {profile.name} needs a tenant id, a client id and a client secret for OAuth",
            code="CredentialsMissing",
        )
    resource = (profile.aad_resource_id or default_resource).rstrip("/")
    return OAuthApp(profile.exchange_online_tenant_id, profile.oauth_client_id, secret, f"{resource}/.default")
