"""The EWS endpoint read from a profile: pinned version and scheme, the right credentials, clear refusals."""

from __future__ import annotations

import base64
import os
from datetime import date

import pytest

from sync.auth.secrets import SecretBox, seal_field
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.mail.ews.endpoint import EXCHANGE_ONLINE_URL, EwsAuth, EwsVersion, ews_endpoint
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import AuthenticationProtocol, CredentialRetrieval, EntityType, ExchangeVersion, ServerType

BOX = SecretBox(base64.b64decode(base64.b64encode(os.urandom(32))))
URL = "https://exchange.contoso.test/EWS/Exchange.asmx"


def mailbox(**fields: object) -> Mailbox:
    owner = EntityRef(type=EntityType.SYSTEM_USER, id="alice")
    box = Mailbox(name="Alice", email_address="alice@contoso.test", owner=owner, **fields)
    seal_field(BOX, box, "password", "mailbox-password")
    return box


def on_premises(**fields: object) -> EmailServerProfile:
    values: dict[str, object] = {
        "incoming_server_location": URL,
        "incoming_credential_retrieval": CredentialRetrieval.EMAIL_SERVER_PROFILE,
        "incoming_username": "svc@contoso.test",
        "incoming_use_impersonation": True,
    }
    profile = EmailServerProfile(name="Exchange", server_type=ServerType.EXCHANGE_SERVER, **(values | fields))
    seal_field(BOX, profile, "incoming_password", "service-password")
    return profile


def online(**fields: object) -> EmailServerProfile:
    values: dict[str, object] = {
        "incoming_credential_retrieval": CredentialRetrieval.SERVER_TO_SERVER,
        "exchange_online_tenant_id": "tenant1",
        "oauth_client_id": "app-id",
    }
    profile = EmailServerProfile(name="Exchange Online", server_type=ServerType.EXCHANGE_ONLINE, **(values | fields))
    seal_field(BOX, profile, "oauth_client_secret", "app-secret")
    return profile


def test_profile_credentials_with_impersonation_on_premises() -> None:
    endpoint = ews_endpoint(mailbox(), on_premises(), BOX)
    assert (endpoint.url, endpoint.auth, endpoint.version) == (URL, EwsAuth.BASIC, EwsVersion.EXCHANGE_2013_SP1)
    assert (endpoint.username, endpoint.password, endpoint.impersonation) == (
        "svc@contoso.test", "service-password", True,
    )  # fmt: skip
    assert "service-password" not in repr(endpoint)


def test_ntlm_is_pinned_when_the_profile_asks_for_it() -> None:
    profile = on_premises(incoming_authentication_protocol=AuthenticationProtocol.NTLM)
    assert ews_endpoint(mailbox(), profile, BOX).auth is EwsAuth.NTLM


def test_the_mailbox_own_credentials_use_delegate_access() -> None:
    profile = on_premises(incoming_credential_retrieval=CredentialRetrieval.USER_OR_QUEUE)
    endpoint = ews_endpoint(mailbox(allow_credentials_for_email_processing=True), profile, BOX)
    assert (endpoint.username, endpoint.password, endpoint.impersonation) == (
        "alice@contoso.test", "mailbox-password", False,
    )  # fmt: skip


def test_the_mailbox_own_credentials_need_the_mailbox_permission() -> None:
    profile = on_premises(incoming_credential_retrieval=CredentialRetrieval.USER_OR_QUEUE)
    with pytest.raises(MailAuthenticationError, match="does not allow"):
        ews_endpoint(mailbox(), profile, BOX)


def test_exchange_online_uses_the_app_registration_with_impersonation() -> None:
    endpoint = ews_endpoint(mailbox(), online(), BOX)
    assert (endpoint.url, endpoint.auth, endpoint.version, endpoint.impersonation) == (
        EXCHANGE_ONLINE_URL, EwsAuth.OAUTH, EwsVersion.EXCHANGE_ONLINE, True,
    )  # fmt: skip
    assert endpoint.oauth is not None
    assert (endpoint.oauth.tenant_id, endpoint.oauth.client_id, endpoint.oauth.client_secret) == (
        "tenant1", "app-id", "app-secret",
    )  # fmt: skip
    assert endpoint.oauth.scope == "https://outlook.office365.com/.default"
    assert "app-secret" not in repr(endpoint)


def test_exchange_online_refuses_basic_authentication() -> None:
    profile = online(incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE)
    with pytest.raises(PermanentMailError, match="must use OAuth"):
        ews_endpoint(mailbox(), profile, BOX)


def test_oauth_without_a_client_secret_is_an_authentication_error() -> None:
    profile = online()
    profile.oauth_client_secret = None
    with pytest.raises(MailAuthenticationError) as caught:
        ews_endpoint(mailbox(), profile, BOX)
    assert caught.value.code == "CredentialsMissing"


def test_a_domain_user_name_is_refused_with_the_exchange_code() -> None:
    with pytest.raises(MailAuthenticationError) as caught:
        ews_endpoint(mailbox(), on_premises(incoming_username="CONTOSO\\svc"), BOX)
    assert caught.value.code == "ErrorNonExistentMailbox"


def test_exchange_2010_is_not_supported() -> None:
    with pytest.raises(PermanentMailError, match="not supported"):
        ews_endpoint(mailbox(), on_premises(exchange_version=ExchangeVersion.EXCHANGE_2010_SP2), BOX)


def test_plain_http_needs_the_explicit_profile_flag() -> None:
    with pytest.raises(PermanentMailError, match="https"):
        ews_endpoint(mailbox(), on_premises(incoming_server_location="http://exchange.contoso.test/EWS"), BOX)


def test_autodiscover_leaves_the_url_open() -> None:
    assert ews_endpoint(mailbox(), on_premises(use_autodiscover=True), BOX).url is None


def test_separate_outgoing_settings_are_used_for_sending() -> None:
    profile = on_premises(
        use_same_settings_for_outgoing=False,
        outgoing_server_location="https://send.contoso.test/EWS/Exchange.asmx",
        outgoing_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        outgoing_username="sender@contoso.test",
    )
    seal_field(BOX, profile, "outgoing_password", "sender-password")
    endpoint = ews_endpoint(mailbox(), profile, BOX, outgoing=True)
    assert (endpoint.url, endpoint.username, endpoint.password) == (
        "https://send.contoso.test/EWS/Exchange.asmx", "sender@contoso.test", "sender-password",
    )  # fmt: skip


def test_a_pop3_profile_is_not_an_exchange_profile() -> None:
    profile = EmailServerProfile(name="POP", server_type=ServerType.POP3_SMTP)
    with pytest.raises(PermanentMailError):
        ews_endpoint(mailbox(), profile, BOX)


def test_ews_to_exchange_online_ends_on_its_removal_date() -> None:
    assert ews_endpoint(mailbox(), online(), BOX, today=date(2027, 3, 31)).auth is EwsAuth.OAUTH
    with pytest.raises(PermanentMailError, match="removed from Exchange Online") as caught:
        ews_endpoint(mailbox(), online(), BOX, today=date(2027, 4, 1))
    assert caught.value.code == "EwsRetired"
    assert ews_endpoint(mailbox(), on_premises(), BOX, today=date(2030, 1, 1)).url == URL  # on premises: still EWS
