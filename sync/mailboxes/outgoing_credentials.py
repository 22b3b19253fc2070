"""Which SMTP endpoint and credentials a mailbox sends with (R-PROV-8, N-12) — decrypted in memory only.

The outgoing twin of ``credentials.py``. With "use same settings for outgoing" (the default) the profile's
incoming credential choice applies to sending too. ``Credentials Specified by a User or Queue`` uses the
mailbox's own login (only when the mailbox allows it); ``Credentials Specified in Email Server Profile``
the profile's; ``Anonymous`` none; the OAuth choices (or the OAuth authentication protocol) send an
XOAUTH2 access token from the :class:`~sync.outgoing.port.AccessTokenSource` the deployment provides.

N-12 counts connections per mailbox when the mailbox's own credentials are used, else per profile:
that is the endpoint's ``scope``.
"""

from __future__ import annotations

from dataclasses import replace

from sync.auth.secrets import SecretBox, open_field
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.mailboxes.credentials import mailbox_password
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import AuthenticationProtocol, CredentialRetrieval
from sync.model.profile import TlsMode
from sync.outgoing.port import AccessTokenSource, SmtpEndpoint, TlsName

AUTH_ERROR_CODE = "OutgoingEmailAuthenticationError"
DEFAULT_SMTP_PORTS = {TlsMode.IMPLICIT: 465, TlsMode.STARTTLS: 587, TlsMode.NONE: 25}  # N-31
OAUTH_RETRIEVALS = frozenset(
    {
        CredentialRetrieval.GMAIL_OAUTH,
        CredentialRetrieval.AZURE_AD_OAUTH,
        CredentialRetrieval.EXCHANGE_HYBRID_MODERN_AUTH,
    }
)
_TLS_NAMES: dict[TlsMode, TlsName] = {TlsMode.IMPLICIT: "implicit", TlsMode.STARTTLS: "starttls", TlsMode.NONE: "none"}


def credential_retrieval(profile: EmailServerProfile) -> CredentialRetrieval:
    same = profile.use_same_settings_for_outgoing
    return profile.incoming_credential_retrieval if same else profile.outgoing_credential_retrieval


def outgoing_endpoint(
    mailbox: Mailbox,
    profile: EmailServerProfile,
    box: SecretBox,
    ca_file: str | None = None,
    tokens: AccessTokenSource | None = None,
) -> SmtpEndpoint:
    """The SMTP endpoint of ``mailbox``; raises a typed MailServerError when it cannot be used."""
    if not profile.outgoing_server_location:
        raise PermanentMailError(
            f"the email server profile {profile.name} has no outgoing server location",
            code="InvalidOutgoingEmailServerProfileConfiguration",
        )
    same = profile.use_same_settings_for_outgoing
    mode = credential_retrieval(profile)
    protocol = profile.incoming_authentication_protocol if same else profile.outgoing_authentication_protocol
    anonymous = SmtpEndpoint(
        host=profile.outgoing_server_location,
        port=profile.outgoing_port or DEFAULT_SMTP_PORTS[profile.outgoing_tls],
        tls=_TLS_NAMES[profile.outgoing_tls],
        auth="none",
        username=None,
        timeout_seconds=profile.connection_timeout_seconds,
        ca_file=ca_file,
        scope=f"profile:{profile.id}",
        max_connections=profile.max_concurrent_connections,
    )
    mailbox_scope = f"mailbox:{mailbox.id}"
    if mode in OAUTH_RETRIEVALS or protocol is AuthenticationProtocol.OAUTH:
        if tokens is None:
            raise MailAuthenticationError(
                f"the profile {profile.name} uses OAuth, and no OAuth token source is configured", code=AUTH_ERROR_CODE
            )
        token = tokens.token(mailbox, profile)
        username = mailbox.username or mailbox.email_address
        return replace(anonymous, auth="xoauth2", username=username, oauth_token=token, scope=mailbox_scope)
    if mode is CredentialRetrieval.ANONYMOUS:
        return anonymous
    try:
        if mode is CredentialRetrieval.USER_OR_QUEUE:
            if not mailbox.allow_credentials_for_email_processing:
                raise MailAuthenticationError(
                    f"the mailbox {mailbox.name} does not allow its credentials to be used for email processing",
                    code=AUTH_ERROR_CODE,
                )
            username, password = mailbox.username or mailbox.email_address, mailbox_password(box, mailbox, profile)
            scope = mailbox_scope
        elif mode is CredentialRetrieval.EMAIL_SERVER_PROFILE:
            field = "incoming" if same else "outgoing"
            username, password = getattr(profile, f"{field}_username"), open_field(box, profile, f"{field}_password")
            scope = anonymous.scope
        else:
            raise PermanentMailError(
                f"credential retrieval {mode.name} is not available for sending over SMTP",
                code="UnsupportedCredentialRetrieval",
            )
    except SecretError as exc:
        raise MailAuthenticationError(f"the stored password cannot be decrypted: {exc}", code=AUTH_ERROR_CODE) from None
    if not username or password is None:
        raise MailAuthenticationError(f"no username or password to send from {mailbox.name}", code=AUTH_ERROR_CODE)
    return replace(anonymous, auth="password", username=username, password=password, scope=scope)
