"""Email server profile (``emailserverprofile``, spec §1.2): where and how mailboxes connect."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from pydantic import Field, model_validator

from sync.model.base import Entity
from sync.model.fields import EmailAddress, Sealed, Str36, Str100, Str250, Str1024, Str2000, Str2084
from sync.model.options import (
    AuthenticationProtocol,
    CredentialRetrieval,
    ExchangeApi,
    ExchangeVersion,
    ServerType,
    StateCode,
    TestStatus,
)


class TlsMode(IntEnum):
    """How a connection is secured. Not a Dynamics column: Dynamics has only ``usessl``."""

    IMPLICIT = 0  # TLS from the first byte (IMAPS 993, POP3S 995, SMTPS 465)
    STARTTLS = 1  # upgrade a plaintext connection before login (IMAP 143, POP3 110, submission 587)
    NONE = 2  # plaintext: refused unless the profile sets allow_plaintext


MAX_CONNECTION_TIMEOUT_MS = 100_000  # N-13: "upper limit is 100 seconds"


class EmailServerProfile(Entity):
    """Connection settings shared by the mailboxes that use the profile."""

    name: Str100
    """The profile's name (Dynamics: required)."""
    description: Str2000 | None = None
    """Notes for administrators."""
    server_type: ServerType
    """The kind of mail server: exchange_server, pop3_smtp, exchange_server_hybrid, exchange_online or imap_smtp."""
    state: StateCode = StateCode.ACTIVE
    """active profiles are used; mailboxes on an inactive one are not processed. Dynamics default: active."""
    owner_email_address: EmailAddress | None = None  # receives profile-level alerts (R-ERR-5)
    """Receives profile-level alert emails (see send_email_alert)."""

    # Exchange
    use_autodiscover: bool = False
    """Find the Exchange server by Autodiscover instead of default_server_location. Dynamics default: no."""
    default_server_location: Str2084 | None = None
    """The EWS URL of the Exchange server, when Autodiscover is off."""
    exchange_version: ExchangeVersion | None = None
    """The Exchange Server version, for EWS requests; none: the newest this service speaks."""
    exchange_online_tenant_id: Str36 | None = None
    """The Microsoft Entra tenant of Exchange Online, for OAuth."""
    oauth_client_id: Str1024 | None = None
    """The application (client) id used for OAuth to Exchange Online."""
    oauth_client_secret: Sealed | None = None
    """The application's client secret (write-only)."""
    aad_resource_id: Str1024 | None = None
    """The resource (audience) OAuth tokens are asked for; none: the default for the server type."""
    exchange_api: ExchangeApi | None = None  # None: Graph for Exchange Online, EWS for Exchange Server
    """How Exchange Online is reached: graph (Microsoft Graph) or ews; none: Graph for Exchange Online, EWS for Exchange
    Server. Not a Dynamics column."""
    graph_url: Str2084 | None = None  # Microsoft Graph's base URL; None: https://graph.microsoft.com/v1.0
    """Microsoft Graph's base URL (national clouds); none: https://graph.microsoft.com/v1.0."""

    # OAuth for IMAP, POP3 and SMTP (R-PROV-8, R-PROV-16): the identity provider's endpoints and Google's key
    oauth_authorize_endpoint: Str2084 | None = None
    """Where an administrator consents for a mailbox (authorization code with PKCE); none: Google's for Gmail OAuth
    profiles, else Microsoft Entra ID's for exchange_online_tenant_id."""
    oauth_token_endpoint: Str2084 | None = None
    """Where codes, refresh tokens and service-account assertions are exchanged for access tokens; none: Google's
    (https://oauth2.googleapis.com/token) for Gmail OAuth profiles, else Microsoft Entra ID's for the tenant."""
    google_service_account_key: Sealed | None = None
    """The JSON key of the Google Cloud service account with domain-wide delegation that Gmail OAuth profiles
    log in with, impersonating each mailbox's address (write-only)."""
    pop3_recent_mode: bool = False
    """Gmail's POP3 "recent mode": log in as recent:<address>, so Gmail lists the last 30 days of mail even when
    another client already downloaded it (R-PROV-16). Default: no; the Gmail template turns it on for POP3."""

    # incoming
    incoming_server_location: Str2084 | None = None
    """The incoming (IMAP, POP3 or EWS) server's host name or URL."""
    incoming_port: int | None = Field(default=None, ge=0, le=65536)
    """The incoming server's port; none: the protocol's default for the TLS mode."""
    incoming_tls: TlsMode = TlsMode.IMPLICIT
    """How the incoming connection is secured: implicit (TLS from the start), starttls, or none (needs allow_plaintext).
    Default: implicit (Dynamics: use SSL, default yes)."""
    incoming_authentication_protocol: AuthenticationProtocol = AuthenticationProtocol.BASIC
    """How the service logs in to the incoming server. Default: basic."""
    incoming_credential_retrieval: CredentialRetrieval = CredentialRetrieval.USER_OR_QUEUE
    """Whose credentials log in to the incoming server: the mailbox's (user_or_queue), the profile's, or OAuth. Dynamics
    default: user_or_queue."""
    incoming_username: Str250 | None = None
    """The user name for incoming connections when the profile holds the credentials."""
    incoming_password: Sealed | None = None
    """The password for incoming connections (write-only)."""
    incoming_use_impersonation: bool = False
    """Exchange: reach each mailbox by impersonation rather than delegation. Dynamics default: no."""

    # outgoing
    use_same_settings_for_outgoing: bool = True
    """Use the incoming credentials for outgoing connections too. Dynamics default: yes."""
    outgoing_server_location: Str2084 | None = None
    """The outgoing (SMTP or EWS) server's host name or URL."""
    outgoing_port: int | None = Field(default=None, ge=0, le=65536)
    """The outgoing server's port; none: the protocol's default for the TLS mode."""
    outgoing_tls: TlsMode = TlsMode.STARTTLS
    """How the outgoing connection is secured: implicit, starttls, or none (needs allow_plaintext). Default: starttls
    (Dynamics: use SSL, default yes)."""
    outgoing_authentication_protocol: AuthenticationProtocol = AuthenticationProtocol.BASIC
    """How the service logs in to the outgoing server. Default: basic."""
    outgoing_credential_retrieval: CredentialRetrieval = CredentialRetrieval.USER_OR_QUEUE
    """Whose credentials log in to the outgoing server. Dynamics default: user_or_queue."""
    outgoing_username: Str250 | None = None
    """The user name for outgoing connections when the profile holds the credentials."""
    outgoing_password: Sealed | None = None
    """The password for outgoing connections (write-only)."""
    outgoing_use_impersonation: bool = False
    """Exchange: send by impersonation rather than delegation. Dynamics default: no."""

    allow_plaintext: bool = False  # the only way to connect without TLS (ARCHITECTURE §5)
    """Allow connections without TLS (incoming_tls or outgoing_tls none); the only way to turn TLS off. Default: no."""

    # processing
    max_concurrent_connections: int = Field(default=10, ge=1, le=300)  # N-12
    """At most this many connections to the server at once, 1 to 300. Dynamics default: 10."""
    min_polling_interval_minutes: int = Field(default=0, ge=0, le=1440)  # N-5
    """Mailboxes on the profile are polled no more often than this, 0 to 1440 minutes. Dynamics default: 0."""
    timeout_mailbox_connection: bool = True
    """Give up a connection attempt that takes too long. Dynamics default: yes."""
    timeout_mailbox_connection_after_ms: int = Field(default=30_000, ge=0, le=MAX_CONNECTION_TIMEOUT_MS)
    """How long a connection attempt may take, in milliseconds, at most 100000. Default: 30000."""
    process_emails_received_after: datetime | None = None
    """Only email received after this time is processed, for every mailbox on the profile."""
    move_undelivered_emails: bool = False
    """Move messages that could not be tracked to an Undeliverable folder on the server. Dynamics default: no."""
    send_email_alert: bool = False  # N-11: mail the owner when >50 % of mailboxes fail within an hour
    """Email the profile's owner when more than half of its mailboxes fail within an hour. Dynamics default: no."""

    # last test results
    last_test_execution_status: TestStatus = TestStatus.NOT_RUN
    """The result of the profile's last test. Default: not_run."""

    @property
    def incoming_password_is_set(self) -> bool:
        return self.incoming_password is not None

    @property
    def outgoing_password_is_set(self) -> bool:
        return self.outgoing_password is not None

    @property
    def oauth_client_secret_is_set(self) -> bool:
        return self.oauth_client_secret is not None

    @property
    def google_service_account_key_is_set(self) -> bool:
        return self.google_service_account_key is not None

    @property
    def is_active(self) -> bool:
        return self.state is StateCode.ACTIVE

    @property
    def uses_graph(self) -> bool:
        """Exchange Online goes through Microsoft Graph unless the profile asks for EWS."""
        if self.server_type is not ServerType.EXCHANGE_ONLINE:
            return False
        return self.exchange_api is not ExchangeApi.EWS

    @property
    def connection_timeout_seconds(self) -> float | None:
        """Seconds a single connection attempt may take (R-SCH-11), or None when unlimited."""
        if not self.timeout_mailbox_connection:
            return None
        return self.timeout_mailbox_connection_after_ms / 1000

    @model_validator(mode="after")
    def _graph_is_for_exchange_online(self) -> EmailServerProfile:
        if self.exchange_api is ExchangeApi.GRAPH and self.server_type is not ServerType.EXCHANGE_ONLINE:
            raise ValueError("exchange_api graph needs server_type exchange_online: Graph reaches Exchange Online only")
        return self

    @model_validator(mode="after")
    def _plaintext_is_explicit(self) -> EmailServerProfile:
        for direction, mode in (("incoming", self.incoming_tls), ("outgoing", self.outgoing_tls)):
            if mode is TlsMode.NONE and not self.allow_plaintext:
                raise ValueError(f"{direction}_tls none needs allow_plaintext true: TLS is on by default")
        return self
