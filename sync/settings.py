"""Every app setting of the service, its default and its validation.

App settings arrive as environment variables (Azure Functions app settings, ``local.settings.json``
locally, or the shell). :func:`load_settings` validates them all at start-up and fails with one
:class:`~sync.settings_problems.InvalidSettings` (a ``ConfigurationError``) that lists every bad or
missing setting with its fix, so a misconfigured deployment stops at once, after one read of one message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    ModelWrapValidatorHandler,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from sync.mail.egress import EgressPolicy
from sync.mail.mime_guards import DEFAULT_MAX_ATTACHMENTS, DEFAULT_MAX_PARTS
from sync.settings_problems import InvalidSettings, SettingProblem, field_problems, presence_problems

_NCRONTAB = re.compile(r"^(\S+\s+){5}\S+$")
_PREFIX = re.compile(r"^([a-z][a-z0-9]{0,19})?$")
API_KEY_ROLES = ("admin", "reader", "approver")  # the role names an API key entry may carry
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

AES_KEY_BYTES = 32  # AES-256-GCM

Minutes = Annotated[int, Field(ge=0, le=1440)]


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """The validated configuration of one deployment."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", populate_by_name=True)

    # --- storage -----------------------------------------------------------------------------------
    storage_connection_string: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SYNC_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"),
        description="Connection string (local development, Azurite). Use the account name in Azure.",
    )
    storage_account_name: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_STORAGE_ACCOUNT_NAME", "AzureWebJobsStorage__accountName"),
        description="Storage account reached with the app's managed identity (identity-based connection).",
    )
    storage_prefix: str = Field(
        default="",
        validation_alias=_env("SYNC_STORAGE_PREFIX"),
        description="Prefix of every table, queue and container name; empty in a deployment, set by tests.",
    )

    # --- secrets -----------------------------------------------------------------------------------
    secret_encryption_key: SecretStr = Field(
        validation_alias=_env("SYNC_SECRET_ENCRYPTION_KEY"),
        description="Base64 of 32 random bytes (AES-256-GCM); a Key Vault reference in Azure.",
    )

    extra_ca_file: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_EXTRA_CA_FILE"),
        description="PEM file of an extra CA to trust for mail servers and the API's identity provider (a private "
        "CA); the system CAs stay trusted.",
    )
    entra_authority: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_ENTRA_AUTHORITY"),
        description="https base URL of the identity provider that issues the mail connectors' app-only tokens "
        "(default https://login.microsoftonline.com); a local mock in tests.",
    )
    oauth_redirect_uri: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_OAUTH_REDIRECT_URI"),
        description="The redirect URI of per-mailbox OAuth consents, as registered with Google and Entra ID "
        "(https://<app>/api/oauth/callback); unset: derived from the request that starts the consent.",
    )

    sdk_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING",
        validation_alias=_env("SYNC_SDK_LOG_LEVEL"),
        description="Log level of the Azure SDK, MSAL and urllib3 loggers (their HTTP logging at INFO floods "
        "the logs with every request's URL and headers); raise it to debug a storage or token problem.",
    )

    allow_custom_token_audiences: bool = Field(
        default=False,
        validation_alias=_env("SYNC_ALLOW_CUSTOM_TOKEN_AUDIENCES"),
        description="Allow a profile's token audience (aad_resource_id) and Graph URL outside the Microsoft "
        "clouds: Exchange on premises with hybrid modern authentication, or a test server.",
    )
    allow_google_app_passwords: bool = Field(
        default=False,
        validation_alias=_env("SYNC_ALLOW_GOOGLE_APP_PASSWORDS"),
        description="Let a profile log in to Google's mail servers with a password (an app password of a personal "
        "account with 2-Step Verification). Off: Google ended password access in 2022 (R-PROV-16), Gmail OAuth.",
    )

    allow_private_mail_hosts: bool = Field(
        default=False,
        validation_alias=_env("SYNC_ALLOW_PRIVATE_MAIL_HOSTS"),
        description="Let mail connections reach private network addresses (RFC 1918, unique local IPv6): "
        "Exchange or mail servers on premises behind a virtual network. Link-local and metadata stay refused.",
    )
    allow_loopback_mail_hosts: bool = Field(
        default=False,
        validation_alias=_env("SYNC_ALLOW_LOOPBACK_MAIL_HOSTS"),
        description="Let mail connections reach loopback addresses: the local stack and tests only.",
    )

    # --- admin API authentication (all optional: with none set, every route but /api/health answers 401) ---
    api_keys: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_API_KEYS"),
        description="Comma-separated SHA-256 hex digests of the admin API keys, each optionally suffixed with its "
        "roles joined by '+': ':reader' (read-only), ':approver' (approve/reject addresses), ':admin+approver'; "
        "no suffix is an administrator (python -m sync new-api-key prints a key and its entry); keys are never stored.",
    )
    api_tenant_id: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_API_TENANT_ID"),
        description="Microsoft Entra tenant whose bearer tokens the admin API accepts (with SYNC_API_AUDIENCE).",
    )
    api_audience: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_API_AUDIENCE"),
        description="The admin API's application ID URI or client id: the 'aud' a bearer token must carry.",
    )
    api_authority: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_API_AUTHORITY"),
        description="https base URL of the identity provider (default https://login.microsoftonline.com); "
        "a local OpenID Connect mock in tests.",
    )

    # --- the console's Entra ID sign-in (authorization code with PKCE; tenant and authority as the API's) ---
    console_client_id: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_CONSOLE_CLIENT_ID"),
        description="Application (client) id the console signs administrators in with (the admin API's app "
        "registration, whose app roles Sync.Admin, Sync.Reader and Sync.Approver the ID token carries); with "
        "SYNC_API_TENANT_ID. Unset: the console accepts only the local sign-in links of `make dev`.",
    )
    console_client_secret: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SYNC_CONSOLE_CLIENT_SECRET"),
        description="The client secret of that app registration (a Key Vault reference in Azure).",
    )
    console_redirect_uri: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_CONSOLE_REDIRECT_URI"),
        description="The console's sign-in callback registered on the app registration, "
        "https://<app>.azurewebsites.net/console/signin/callback.",
    )

    api_max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        validation_alias=_env("SYNC_API_MAX_BODY_BYTES"),
        description="Largest admin API request body, checked before it is parsed (413 beyond): 10 MiB fits an "
        "email with a 5 MB attachment (Dynamics' default file size limit) base64-encoded; the Functions host "
        "stops at 100 MB.",
    )
    api_max_recipients: int = Field(
        default=500,
        ge=1,
        le=5000,
        validation_alias=_env("SYNC_API_MAX_RECIPIENTS"),
        description="Most To, Cc and Bcc recipients one email created through the admin API may have (422 beyond).",
    )

    # --- schedules (NCRONTAB, six fields, as the Functions timer trigger reads them) ---------------
    mailbox_schedule: str = Field(default="0 */1 * * * *", validation_alias=_env("SYNC_MAILBOX_SCHEDULE"))
    outbox_sweep_schedule: str = Field(default="0 */5 * * * *", validation_alias=_env("SYNC_OUTBOX_SWEEP_SCHEDULE"))
    act_schedule: str = Field(default="0 */1 * * * *", validation_alias=_env("SYNC_ACT_SCHEDULE"))
    test_enable_schedule: str = Field(
        default="0 */5 * * * *",
        validation_alias=_env("SYNC_TEST_ENABLE_SCHEDULE"),
        description="When scheduled Test & Enable runs and automatic re-tests of failed mailboxes are queued "
        "(test_email_configuration_scheduled, postpone_test_email_configuration_until; R-TE-1, R-TE-11).",
    )
    summary_schedule: str = Field(
        default="0 */5 * * * *",
        validation_alias=_env("SYNC_SUMMARY_SCHEDULE"),
        description="When the organization summary's mailbox states are counted again (one scan of the mailboxes: "
        "about one storage request per 1,000 mailboxes); the summary shows them as of that time.",
    )

    push_renew_schedule: str = Field(
        default="0 */30 * * * *",
        validation_alias=_env("SYNC_PUSH_RENEW_SCHEDULE"),
        description="When Graph change notification subscriptions are renewed well before they expire, and lost "
        "ones re-created (docs/push.md); only runs with SYNC_GRAPH_NOTIFICATION_URL set.",
    )
    graph_notification_url: str | None = Field(
        default=None,
        validation_alias=_env("SYNC_GRAPH_NOTIFICATION_URL"),
        description="Public https URL of this app's /api/push/graph route: Exchange Online mailboxes reached "
        "through Graph get change notifications (push) there. Empty: push off, polling only (docs/push.md).",
    )

    scheduler_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        validation_alias=_env("SYNC_SCHEDULER_CONCURRENCY"),
        description="Due mailboxes a scheduler tick claims at once (each claim is a few storage round trips).",
    )
    work_items_per_message: int = Field(
        default=8,
        ge=1,
        le=32,
        validation_alias=_env("SYNC_WORK_ITEMS_PER_MESSAGE"),
        description=(
            "Claimed mailboxes per mailbox-work (or act-work) queue message: one Queue request for that many "
            "mailboxes; the handler runs them concurrently, each on its own. 1 sends one message per mailbox."
        ),
    )

    # --- polling (spec §3.3, R-SCH-4/5/8) ----------------------------------------------------------
    poll_busy_minutes: Minutes = Field(default=1, validation_alias=_env("SYNC_POLL_BUSY_MINUTES"))
    poll_idle_max_minutes: Minutes = Field(default=12, validation_alias=_env("SYNC_POLL_IDLE_MAX_MINUTES"))
    poll_cycles_per_hour: int = Field(
        default=12,
        ge=0,
        le=60,
        validation_alias=_env("SYNC_POLL_CYCLES_PER_HOUR"),
        description="Most incoming cycles per mailbox in any 60 minutes (Dynamics' 5-minute cadence: 12); the "
        "adaptive polling waits when a mailbox has used them (docs/scheduling.md). 0 turns the budget off.",
    )
    poll_burst_cycles: int = Field(
        default=2,
        ge=1,
        le=60,
        validation_alias=_env("SYNC_POLL_BURST_CYCLES"),
        description="Of SYNC_POLL_CYCLES_PER_HOUR, how many a mailbox that was idle may take back to back (the "
        "busy step); the rest are spread over the hour.",
    )
    act_poll_min_minutes: Minutes = Field(
        default=5,
        ge=1,
        validation_alias=_env("SYNC_ACT_POLL_MIN_MINUTES"),
        description="Minutes between ACT cycles after a cycle that changed something (R-SCH-7); each idle cycle "
        "adds 2, up to SYNC_ACT_POLL_MAX_MINUTES.",
    )
    act_poll_max_minutes: Minutes = Field(
        default=15,
        ge=1,
        validation_alias=_env("SYNC_ACT_POLL_MAX_MINUTES"),
        description="Longest wait between ACT cycles of a mailbox that also receives email (R-SCH-7); an ACT-only "
        "mailbox waits at most 3 minutes less (15 and 12, as Dynamics).",
    )

    # --- limits ------------------------------------------------------------------------------------
    max_incoming_email_bytes: int = Field(
        default=150 * 1024 * 1024, ge=1024, validation_alias=_env("SYNC_MAX_INCOMING_EMAIL_BYTES")
    )  # N-14
    max_emails_per_cycle: int = Field(default=100, ge=1, le=10_000, validation_alias=_env("SYNC_MAX_EMAILS_PER_CYCLE"))
    retrieval_batch_size: int = Field(
        default=100,
        ge=1,
        le=512,
        validation_alias=_env("SYNC_RETRIEVAL_BATCH_SIZE"),
        description="Exchange items one listing request returns (R-IN-10): changes per EWS SyncFolderItems page "
        "(Exchange allows 512) or messages per Graph delta page; every page is checkpointed.",
    )
    ews_max_concurrent_calls: int = Field(
        default=4,
        ge=1,
        le=27,
        validation_alias=_env("SYNC_EWS_MAX_CONCURRENT_CALLS"),
        description="EWS requests in flight per mailbox at most (Exchange Online throttles above 27 per user).",
    )
    max_delivery_attempts: int = Field(default=5, ge=1, le=100, validation_alias=_env("SYNC_MAX_DELIVERY_ATTEMPTS"))
    send_retry_minutes: str = Field(
        default="5,15,30,60",
        validation_alias=_env("SYNC_SEND_RETRY_MINUTES"),
        description="Minutes an email waits after each failed send attempt, comma-separated; the last repeats (§3.3).",
    )
    alert_email_sender: str | None = Field(
        default=None,
        max_length=320,
        validation_alias=_env("SYNC_ALERT_EMAIL_SENDER"),
        description="Email address of the CRM user or queue whose mailbox sends alert emails (R-ERR-5, R-ERR-7); "
        "unset: no alert email is sent and the profile's alerts say so.",
    )
    transient_retry_limit: int = Field(default=10, ge=1, le=100, validation_alias=_env("SYNC_TRANSIENT_RETRY_LIMIT"))
    transient_retry_minutes: Minutes = Field(default=5, validation_alias=_env("SYNC_TRANSIENT_RETRY_MINUTES"))
    function_timeout_seconds: int = Field(
        default=600, ge=60, le=86_400, validation_alias=_env("SYNC_FUNCTION_TIMEOUT_SECONDS")
    )
    worker_budget_seconds: int = Field(default=240, ge=10, validation_alias=_env("SYNC_WORKER_BUDGET_SECONDS"))
    item_failure_retention_days: int = Field(
        default=3, ge=1, le=30, validation_alias=_env("SYNC_ITEM_FAILURE_RETENTION_DAYS")
    )  # N-26
    process_since_max_days: int = Field(default=90, ge=1, le=3650, validation_alias=_env("SYNC_PROCESS_SINCE_MAX_DAYS"))
    mime_parse_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, validation_alias=_env("SYNC_MIME_PARSE_TIMEOUT_SECONDS")
    )
    mime_max_nesting: int = Field(default=20, ge=1, le=200, validation_alias=_env("SYNC_MIME_MAX_NESTING"))
    mime_max_parts: int = Field(
        default=DEFAULT_MAX_PARTS,
        ge=10,
        le=100_000,
        validation_alias=_env("SYNC_MIME_MAX_PARTS"),
        description="MIME parts one incoming message may have; past it the message is a quarantined item.",
    )
    mime_max_attachments: int = Field(
        default=DEFAULT_MAX_ATTACHMENTS,
        ge=1,
        le=100_000,
        validation_alias=_env("SYNC_MIME_MAX_ATTACHMENTS"),
        description="Attachments (TNEF contents included) one incoming message may have; past it, quarantined.",
    )

    @property
    def lease_seconds(self) -> int:
        """A mailbox lease outlives the longest run (function timeout + 2 minutes, spec §3.3)."""
        return self.function_timeout_seconds + 120

    @property
    def send_backoff_minutes(self) -> tuple[int, ...]:
        """The per-email back-off after failed send attempts 1, 2, 3... (R-OUT-9)."""
        return tuple(int(part) for part in self.send_retry_minutes.split(","))

    @field_validator("send_retry_minutes")
    @classmethod
    def _minutes_list(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",")]
        if not all(part.isdigit() and 1 <= int(part) <= 1440 for part in parts):
            raise ValueError("must be comma-separated minutes, each 1..1440, such as '5,15,30,60'")
        return ",".join(parts)

    @field_validator("secret_encryption_key")
    @classmethod
    def _key_is_aes256(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be base64 (generate one with: python -m sync new-key)") from None
        if len(raw) != AES_KEY_BYTES:
            raise ValueError(f"must decode to {AES_KEY_BYTES} bytes, got {len(raw)}")
        return value

    @field_validator("api_keys")
    @classmethod
    def _api_keys_are_digests(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        for entry in value.split(","):
            digest, _, suffix = entry.strip().partition(":")
            roles = suffix.split("+") if suffix else []
            if not _SHA256_HEX.match(digest) or any(role not in API_KEY_ROLES for role in roles):
                raise ValueError(
                    "must be comma-separated SHA-256 hex digests, each optionally ending in ':' and roles joined "
                    f"by '+' ({', '.join(API_KEY_ROLES)})"
                )
        return value

    @field_validator("api_tenant_id", "api_audience", "console_client_id", "console_redirect_uri")
    @classmethod
    def _blank_means_not_configured(cls, value: str | None) -> str | None:
        """A deployment without an app registration sets these empty (infra/modules/functionapp.bicep)."""
        return value.strip() or None if value is not None else None

    @field_validator("oauth_redirect_uri")
    @classmethod
    def _redirect_is_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://localhost", "http://127.0.0.1")):
            raise ValueError("must be an https:// URL (codes travel in it); http only for localhost")
        return value or None

    @field_validator("graph_notification_url")
    @classmethod
    def _notification_url_is_https(cls, value: str | None) -> str | None:
        """Graph delivers only to https; loopback http is allowed for the local stack and tests."""
        url = (value or "").strip()
        if not url:
            return None
        if not (url.startswith("https://") or url.startswith(("http://127.0.0.1", "http://localhost"))):
            raise ValueError("must be an https:// URL of the app's /api/push/graph route (empty: push off)")
        return url

    @field_validator("api_authority", "entra_authority")
    @classmethod
    def _authority_is_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL (tokens are only trusted over TLS)")
        return value.rstrip("/") if value else None

    @field_validator("storage_prefix")
    @classmethod
    def _prefix_is_storage_safe(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError("must be empty or 1-20 lowercase letters or digits, starting with a letter")
        return value

    @field_validator(
        "mailbox_schedule",
        "outbox_sweep_schedule",
        "act_schedule",
        "test_enable_schedule",
        "summary_schedule",
        "push_renew_schedule",
    )
    @classmethod
    def _is_ncrontab(cls, value: str) -> str:
        if not _NCRONTAB.match(value.strip()):
            raise ValueError("must be a six-field NCRONTAB expression such as '0 */1 * * * *'")
        return value.strip()

    @model_validator(mode="wrap")
    @classmethod
    def _report_every_problem(cls, data: Any, handler: ModelWrapValidatorHandler[Settings]) -> Settings:
        """Field errors, the presence rules and the value rules, all in one :class:`InvalidSettings`."""
        names = setting_names()
        problems = presence_problems(data, names) if isinstance(data, Mapping) else []
        try:
            settings = handler(data)
        except ValidationError as exc:
            descriptions = {name: field.description for name, field in cls.model_fields.items()}
            problems += field_problems(exc.errors(include_input=False), names, descriptions)
            raise InvalidSettings(problems) from None
        except InvalidSettings as exc:
            raise InvalidSettings([*problems, *exc.problems]) from None
        if problems:
            raise InvalidSettings(problems)
        return settings

    @model_validator(mode="after")
    def _values_agree(self) -> Settings:
        rules = (
            (self.worker_budget_seconds >= self.function_timeout_seconds, "SYNC_WORKER_BUDGET_SECONDS",
             "must stay below SYNC_FUNCTION_TIMEOUT_SECONDS", "lower it or raise SYNC_FUNCTION_TIMEOUT_SECONDS"),
            (self.poll_busy_minutes > self.poll_idle_max_minutes, "SYNC_POLL_BUSY_MINUTES",
             "must not exceed SYNC_POLL_IDLE_MAX_MINUTES", "lower it or raise SYNC_POLL_IDLE_MAX_MINUTES"),
            (0 < self.poll_cycles_per_hour < self.poll_burst_cycles, "SYNC_POLL_BURST_CYCLES",
             "must not exceed SYNC_POLL_CYCLES_PER_HOUR", "lower it or raise SYNC_POLL_CYCLES_PER_HOUR"),
            (self.act_poll_min_minutes > self.act_poll_max_minutes, "SYNC_ACT_POLL_MIN_MINUTES",
             "must not exceed SYNC_ACT_POLL_MAX_MINUTES", "lower it or raise SYNC_ACT_POLL_MAX_MINUTES"),
        )  # fmt: skip
        problems = [SettingProblem(name, reason, fix) for broken, name, reason, fix in rules if broken]
        if problems:
            raise InvalidSettings(problems)
        return self

    def egress_policy(self) -> EgressPolicy:
        """Where mail connections may go (``sync.mail.egress``)."""
        return EgressPolicy(allow_private=self.allow_private_mail_hosts, allow_loopback=self.allow_loopback_mail_hosts)

    def aes_key(self) -> bytes:
        """The decoded encryption key; only the secret box should call this."""
        return base64.b64decode(self.secret_encryption_key.get_secret_value())


def setting_names() -> dict[str, list[str]]:
    """Each field's accepted environment variable names, first the preferred one (for docs and infra)."""
    names: dict[str, list[str]] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[name] = [str(choice) for choice in alias.choices] if isinstance(alias, AliasChoices) else [name]
    return names


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, or raise one :class:`InvalidSettings` naming every problem and its fix."""
    return Settings(**overrides)
