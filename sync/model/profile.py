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
    description: Str2000 | None = None
    server_type: ServerType
    state: StateCode = StateCode.ACTIVE
    owner_email_address: EmailAddress | None = None  # receives profile-level alerts (R-ERR-5)

    # Exchange
    use_autodiscover: bool = False
    default_server_location: Str2084 | None = None
    exchange_version: ExchangeVersion | None = None
    exchange_online_tenant_id: Str36 | None = None
    oauth_client_id: Str1024 | None = None
    oauth_client_secret: Sealed | None = None
    aad_resource_id: Str1024 | None = None
    exchange_api: ExchangeApi | None = None  # None: Graph for Exchange Online, EWS for Exchange Server
    graph_url: Str2084 | None = None  # Microsoft Graph's base URL; None: https://graph.microsoft.com/v1.0

    # incoming
    incoming_server_location: Str2084 | None = None
    incoming_port: int | None = Field(default=None, ge=0, le=65536)
    incoming_tls: TlsMode = TlsMode.IMPLICIT
    incoming_authentication_protocol: AuthenticationProtocol = AuthenticationProtocol.BASIC
    incoming_credential_retrieval: CredentialRetrieval = CredentialRetrieval.USER_OR_QUEUE
    incoming_username: Str250 | None = None
    incoming_password: Sealed | None = None
    incoming_use_impersonation: bool = False

    # outgoing
    use_same_settings_for_outgoing: bool = True
    outgoing_server_location: Str2084 | None = None
    outgoing_port: int | None = Field(default=None, ge=0, le=65536)
    outgoing_tls: TlsMode = TlsMode.STARTTLS
    outgoing_authentication_protocol: AuthenticationProtocol = AuthenticationProtocol.BASIC
    outgoing_credential_retrieval: CredentialRetrieval = CredentialRetrieval.USER_OR_QUEUE
    outgoing_username: Str250 | None = None
    outgoing_password: Sealed | None = None
    outgoing_use_impersonation: bool = False

    allow_plaintext: bool = False  # the only way to connect without TLS (ARCHITECTURE §5)

    # processing
    max_concurrent_connections: int = Field(default=10, ge=1, le=300)  # N-12
    min_polling_interval_minutes: int = Field(default=0, ge=0, le=1440)  # N-5
    timeout_mailbox_connection: bool = True
    timeout_mailbox_connection_after_ms: int = Field(default=30_000, ge=0, le=MAX_CONNECTION_TIMEOUT_MS)
    process_emails_received_after: datetime | None = None
    move_undelivered_emails: bool = False
    send_email_alert: bool = False  # N-11: mail the owner when >50 % of mailboxes fail within an hour

    # last test results
    last_test_execution_status: TestStatus = TestStatus.NOT_RUN

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
            raise ValueError("exchange_api GRAPH needs server_type EXCHANGE_ONLINE: Graph reaches Exchange Online only")
        return self

    @model_validator(mode="after")
    def _plaintext_is_explicit(self) -> EmailServerProfile:
        for direction, mode in (("incoming", self.incoming_tls), ("outgoing", self.outgoing_tls)):
            if mode is TlsMode.NONE and not self.allow_plaintext:
                raise ValueError(f"{direction}_tls NONE needs allow_plaintext=true: TLS is on by default")
        return self
