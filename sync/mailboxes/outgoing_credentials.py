"""Which SMTP endpoint and credentials a mailbox sends with (R-PROV-8, N-12) — decrypted in memory only.

The outgoing twin of ``credentials.py``. With "use same settings for outgoing" (the default) the profile's
incoming credential choice applies to sending too. ``Credentials Specified by a User or Queue`` uses the
mailbox's own login (only when the mailbox allows it); ``Credentials Specified in Email Server Profile``
the profile's; ``Anonymous`` none; the OAuth choices (or the OAuth authentication protocol) log in with
SASL XOAUTH2 / OAUTHBEARER and access tokens from the :class:`~sync.outgoing.port.AccessTokenSource` the
deployment provides, asked for when a connection opens.

N-12 counts connections per mailbox when the mailbox's own credentials are used, else per profile:
that is the endpoint's ``scope``.
"""

from __future__ import annotations

from dataclasses import replace

from sync.auth.mail_tokens import NO_SOURCE_CODE, outgoing_uses_oauth, sasl_user, token_fetch
from sync.auth.secrets import SecretBox, open_field
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.mailboxes.credentials import mailbox_password
from sync.model import EmailServerProfile, Mailbox
from sync.model.options import CredentialRetrieval
from sync.model.profile import TlsMode
from sync.outgoing.port import AccessTokenSource, SmtpEndpoint, TlsName

AUTH_ERROR_CODE = "OutgoingEmailAuthenticationError"
DEFAULT_SMTP_PORTS = {TlsMode.IMPLICIT: 465, TlsMode.STARTTLS: 587, TlsMode.NONE: 25}  # N-31
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
    if outgoing_uses_oauth(profile):
        if tokens is None:
            raise MailAuthenticationError(
                f"the profile {profile.name} uses OAuth, and no OAuth token source is configured", code=NO_SOURCE_CODE
            )
        fetch = token_fetch(tokens, mailbox, profile)  # asked when a connection opens, not for a pooled one
        return replace(anonymous, auth="xoauth2", username=sasl_user(mailbox), oauth=fetch, scope=mailbox_scope)
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
