"""Which OAuth token source logs a mailbox in: consent over the profile's kind, Gmail vs Microsoft (R-PROV-8)."""

from __future__ import annotations

import pytest

from sync.auth.mail_tokens import MailTokenSources, token_kind, uses_oauth
from sync.mail.errors import MailAuthenticationError
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import AuthenticationProtocol, CredentialRetrieval, EntityType, ServerType


def profile(**fields: object) -> EmailServerProfile:
    values: dict[str, object] = {"name": "Mail", "server_type": ServerType.IMAP_SMTP}
    values.update(fields)
    return EmailServerProfile(**values)


def mailbox() -> Mailbox:
    return Mailbox(name="Alice", email_address="alice@x.test", owner=EntityRef(type=EntityType.SYSTEM_USER, id="u1"))


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[bool] = []

    def token(self, mailbox: Mailbox, profile: EmailServerProfile, *, force_refresh: bool = False) -> str:
        self.calls.append(force_refresh)
        return f"{self.name}-token"


def test_the_profile_kind_picks_the_source() -> None:
    google, microsoft = Recording("google"), Recording("microsoft")
    sources = MailTokenSources({"google": google, "microsoft": microsoft})
    gmail = profile(incoming_credential_retrieval=CredentialRetrieval.GMAIL_OAUTH)
    entra = profile(incoming_credential_retrieval=CredentialRetrieval.AZURE_AD_OAUTH)
    assert sources.token(mailbox(), gmail) == "google-token"
    assert sources.token(mailbox(), entra, force_refresh=True) == "microsoft-token"
    assert (google.calls, microsoft.calls) == ([False], [True])


def test_outgoing_settings_of_their_own_count() -> None:
    gmail_out = profile(
        use_same_settings_for_outgoing=False, outgoing_credential_retrieval=CredentialRetrieval.GMAIL_OAUTH
    )
    assert token_kind(mailbox(), gmail_out) == "google" and uses_oauth(gmail_out)
    by_protocol = profile(incoming_authentication_protocol=AuthenticationProtocol.OAUTH)
    assert token_kind(mailbox(), by_protocol) == "microsoft" and uses_oauth(by_protocol)
    assert not uses_oauth(profile())


def test_a_mailbox_with_its_own_consent_uses_it() -> None:
    consented = mailbox()
    object.__setattr__(consented, "oauth_refresh_token", "sealed")  # the consent engineer's field, once it exists
    assert token_kind(consented, profile(incoming_credential_retrieval=CredentialRetrieval.GMAIL_OAUTH)) == "consent"


def test_an_unregistered_kind_is_a_clear_credentials_error() -> None:
    sources = MailTokenSources({"microsoft": Recording("microsoft")})
    gmail = profile(name="Gmail", incoming_credential_retrieval=CredentialRetrieval.GMAIL_OAUTH)
    with pytest.raises(MailAuthenticationError, match=r"'google'.*no source") as caught:
        sources.token(mailbox(), gmail)
    assert caught.value.code == "OAuthTokenSourceMissing"
