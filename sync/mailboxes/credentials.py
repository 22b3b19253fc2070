"""Which credentials and endpoint a mailbox connects with (R-PROV-8, R-SCH-11) — decrypted in memory only.

``Credentials Specified by a User or Queue`` uses the mailbox's own username and password, and only when
the mailbox allows it (``allowemailconnectortousecredentials``); ``Credentials Specified in Email Server
Profile`` uses the profile's. The OAuth modes (Gmail OAuth, Azure AD OAuth, hybrid modern auth, or the OAuth
authentication protocol) log in with SASL XOAUTH2 / OAUTHBEARER and the tokens of the deployment's
:class:`~sync.outgoing.port.AccessTokenSource` (``sync/auth/mail_tokens.py``). Other modes
(server-to-server, Windows integrated) belong to the Exchange connectors and are refused here with a
permanent error that says so.
"""

from __future__ import annotations

from sync.auth.mail_tokens import NO_SOURCE_CODE, incoming_uses_oauth, sasl_user, token_fetch
from sync.auth.secrets import SecretBox, open_field
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.mail.port import ConnectionSettings
from sync.mailboxes.gmail import pop3_login_name
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import CredentialRetrieval, ServerType
from sync.model.profile import TlsMode
from sync.outgoing.port import AccessTokenSource

DEFAULT_PORTS = {
    (ServerType.IMAP_SMTP, TlsMode.IMPLICIT): 993,
    (ServerType.IMAP_SMTP, TlsMode.STARTTLS): 143,
    (ServerType.IMAP_SMTP, TlsMode.NONE): 143,
    (ServerType.POP3_SMTP, TlsMode.IMPLICIT): 995,
    (ServerType.POP3_SMTP, TlsMode.STARTTLS): 110,
    (ServerType.POP3_SMTP, TlsMode.NONE): 110,
}
_TLS_NAMES = {TlsMode.IMPLICIT: "implicit", TlsMode.STARTTLS: "starttls", TlsMode.NONE: "none"}


def incoming_connection(
    mailbox: Mailbox,
    profile: EmailServerProfile,
    box: SecretBox,
    ca_file: str | None = None,
    tokens: AccessTokenSource | None = None,
) -> ConnectionSettings:
    """The incoming endpoint and credentials of ``mailbox``; raises a typed MailServerError if unusable."""
    if not profile.incoming_server_location:
        raise PermanentMailError(
            f"the email server profile {profile.name} has no incoming server location",
            code="InvalidIncomingEmailServerProfileConfiguration",
        )
    port = profile.incoming_port or DEFAULT_PORTS.get((profile.server_type, profile.incoming_tls), 993)
    if incoming_uses_oauth(profile):
        if tokens is None:
            raise MailAuthenticationError(
                f"the profile {profile.name} uses OAuth, and no OAuth token source is configured",
                code=NO_SOURCE_CODE,
            )
        return ConnectionSettings(
            host=profile.incoming_server_location,
            port=port,
            username=pop3_login_name(profile, sasl_user(mailbox)),  # Gmail's recent mode (R-PROV-16)
            password="",
            tls=_TLS_NAMES[profile.incoming_tls],
            timeout_seconds=profile.connection_timeout_seconds,
            ca_file=ca_file,
            oauth=token_fetch(tokens, mailbox, profile),
        )
    mode = profile.incoming_credential_retrieval
    try:
        if mode is CredentialRetrieval.USER_OR_QUEUE:
            if not mailbox.allow_credentials_for_email_processing:
                raise MailAuthenticationError(
                    f"the mailbox {mailbox.name} does not allow its credentials to be used for email processing",
                    code="CredentialsNotAllowed",
                )
            username, password = mailbox.username or mailbox.email_address, mailbox_password(box, mailbox, profile)
        elif mode is CredentialRetrieval.EMAIL_SERVER_PROFILE:
            username, password = profile.incoming_username, open_field(box, profile, "incoming_password")
        else:
            raise PermanentMailError(
                f"credential retrieval {mode.name} is not available for {profile.server_type.name} profiles",
                code="UnsupportedCredentialRetrieval",
            )
    except SecretError as exc:
        raise MailAuthenticationError(
            f"the stored password cannot be decrypted: {exc}", code="CredentialsUnreadable"
        ) from None
    if not username or password is None:
        raise MailAuthenticationError(
            f"no username or password is set for the mailbox {mailbox.name}", code="CredentialsMissing"
        )
    return ConnectionSettings(
        host=profile.incoming_server_location,
        port=port,
        username=pop3_login_name(profile, username),
        password=password,
        tls=_TLS_NAMES[profile.incoming_tls],
        timeout_seconds=profile.connection_timeout_seconds,
        ca_file=ca_file,
    )


def mailbox_password(box: SecretBox, mailbox: Mailbox, profile: EmailServerProfile) -> str | None:
    """The mailbox's password, only for the servers of the profile it was given for (``password_profile_id``)."""
    return open_field(box, mailbox, "password") if mailbox.password_is_for(profile.id) else None
