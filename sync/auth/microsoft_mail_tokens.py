"""The ``"microsoft"`` token source: app-only tokens for IMAP, POP3 and SMTP of Exchange Online (R-PROV-8).

The profile's app registration (tenant, client id, client secret: the fields EWS and Graph use) asks Entra
ID for a token by the client-credentials grant through the shared MSAL provider (``sync/auth/tokens.py``),
for ``https://outlook.office365.com/.default`` unless the profile names another audience. The token names
no mailbox: Exchange Online lets the app's service principal into the mailboxes it was granted
(``Add-MailboxPermission`` / ``Add-RecipientPermission``, see docs/oauth-mail.md), and the SASL login names
the mailbox. No token is ever logged or put into an error message.
"""

from __future__ import annotations

from sync.auth.secrets import SecretBox
from sync.auth.tokens import TokenProvider
from sync.errors import SecretError
from sync.mail.errors import MailAuthenticationError
from sync.mail.ews.endpoint import EXCHANGE_ONLINE_RESOURCE, oauth_app
from sync.model import EmailServerProfile, Mailbox


class MicrosoftAppTokens:
    """An :class:`~sync.outgoing.port.AccessTokenSource` of the profile's app registration, app-only."""

    def __init__(self, provider: TokenProvider, box: SecretBox) -> None:
        self.provider = provider
        self.box = box

    def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
        try:
            app = oauth_app(profile, self.box, default_resource=EXCHANGE_ONLINE_RESOURCE)
        except SecretError as exc:
            raise MailAuthenticationError(
                f"the client secret of the profile {profile.name} cannot be decrypted: {exc}",
                code="CredentialsUnreadable",
            ) from None
        token = self.provider.token(
            app.tenant_id, app.client_id, app.client_secret, app.scope, force_refresh=force_refresh
        )
        return token.value
