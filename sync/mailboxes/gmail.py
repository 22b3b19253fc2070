"""The Gmail profile (R-PROV-16): Google's servers and ports, OAuth required, POP3 "recent mode" — pure.

Google ended username-and-password access for Gmail and Google Workspace on 30 May 2022, so a profile that
points at Google's mail servers must log in with OAuth (``gmail_oauth``): a service account with domain-wide
delegation, or a per-mailbox consent. Google's servers: IMAP ``imap.gmail.com`` 993 and POP3 ``pop.gmail.com`` 995
with TLS from the start, SMTP submission ``smtp.gmail.com`` 587 with STARTTLS.

POP3 "recent mode": Gmail's POP3 normally lists a message only once, to whichever client downloads it first;
logging in as ``recent:<address>`` lists the last 30 days whatever other clients did. The service remembers what
it processed (UIDLs), so recent mode is the documented way to keep POP3 from returning no new mail when a phone
or another client also reads the mailbox. The Gmail template turns it on for POP3 profiles.
"""

from __future__ import annotations

from typing import Any

from sync.auth.mail_tokens import OAUTH_RETRIEVALS
from sync.model import EmailServerProfile
from sync.model.options import AuthenticationProtocol, CredentialRetrieval, ServerType
from sync.model.profile import TlsMode

IMAP_HOST = "imap.gmail.com"
POP3_HOST = "pop.gmail.com"
SMTP_HOST = "smtp.gmail.com"
IMAP_PORT, POP3_PORT, SMTP_PORT = 993, 995, 587
GOOGLE_MAIL_DOMAINS = ("gmail.com", "googlemail.com")  # Google's mail servers live under these
RECENT_PREFIX = "recent:"
GMAIL_SERVER_TYPES = (ServerType.IMAP_SMTP, ServerType.POP3_SMTP)


def gmail_defaults(server_type: ServerType) -> dict[str, Any]:
    """The profile fields of the Gmail template for an IMAP/SMTP or POP3/SMTP profile."""
    if server_type not in GMAIL_SERVER_TYPES:
        raise ValueError("a Gmail profile is imap_smtp or pop3_smtp")
    pop3 = server_type is ServerType.POP3_SMTP
    return {
        "server_type": server_type,
        "incoming_server_location": POP3_HOST if pop3 else IMAP_HOST,
        "incoming_port": POP3_PORT if pop3 else IMAP_PORT,
        "incoming_tls": TlsMode.IMPLICIT,
        "incoming_credential_retrieval": CredentialRetrieval.GMAIL_OAUTH,
        "incoming_authentication_protocol": AuthenticationProtocol.OAUTH,
        "use_same_settings_for_outgoing": True,
        "outgoing_server_location": SMTP_HOST,
        "outgoing_port": SMTP_PORT,
        "outgoing_tls": TlsMode.STARTTLS,
        "outgoing_credential_retrieval": CredentialRetrieval.GMAIL_OAUTH,
        "outgoing_authentication_protocol": AuthenticationProtocol.OAUTH,
        "pop3_recent_mode": pop3,
    }


def is_google_mail_host(host: str | None) -> bool:
    name = (host or "").strip().rstrip(".").lower()
    return any(name == domain or name.endswith("." + domain) for domain in GOOGLE_MAIL_DOMAINS)


def _oauth(retrieval: CredentialRetrieval, protocol: AuthenticationProtocol) -> bool:
    return retrieval in OAUTH_RETRIEVALS or protocol is AuthenticationProtocol.OAUTH


def password_login_refusal(profile: EmailServerProfile) -> str | None:
    """Why ``profile`` cannot be saved (a login to Google's servers without OAuth), or None."""
    incoming = _oauth(profile.incoming_credential_retrieval, profile.incoming_authentication_protocol)
    outgoing = incoming
    if not profile.use_same_settings_for_outgoing:
        outgoing = _oauth(profile.outgoing_credential_retrieval, profile.outgoing_authentication_protocol)
    logins = ((profile.incoming_server_location, incoming), (profile.outgoing_server_location, outgoing))
    if any(is_google_mail_host(host) and not oauth for host, oauth in logins):
        return (
            "Google's mail servers take OAuth only since 30 May 2022: set incoming_credential_retrieval to "
            "gmail_oauth (or create the profile with POST /api/profiles/gmail); an app password needs the "
            "setting SYNC_ALLOW_GOOGLE_APP_PASSWORDS"
        )
    return None


def pop3_login_name(profile: EmailServerProfile, name: str) -> str:
    """The name a POP3 login uses: ``recent:<name>`` in Gmail's recent mode, else ``name``."""
    if profile.server_type is not ServerType.POP3_SMTP or not profile.pop3_recent_mode or not name:
        return name
    return name if name.startswith(RECENT_PREFIX) else RECENT_PREFIX + name
