"""Which credentials a mailbox connects with (R-PROV-8), decrypted only when asked."""

import pytest

from sync.auth.secrets import SecretBox, seal_field
from sync.mail.errors import MailAuthenticationError, PermanentMailError
from sync.mailboxes.credentials import incoming_connection
from sync.model import EmailServerProfile, Mailbox
from sync.model.fields import EntityRef
from sync.model.options import CredentialRetrieval, EntityType, ServerType
from sync.model.profile import TlsMode

BOX = SecretBox(b"\x03" * 32)


def _mailbox(**changes: object) -> Mailbox:
    mailbox = Mailbox(
        name="Ann",
        email_address="ann@example.test",
        owner=EntityRef(type=EntityType.SYSTEM_USER, id="u"),
        allow_credentials_for_email_processing=True,
    )
    seal_field(BOX, mailbox, "password", "mailbox-pass")
    return mailbox.model_copy(update=changes)


def _profile(**changes: object) -> EmailServerProfile:
    profile = EmailServerProfile(
        name="P", server_type=ServerType.IMAP_SMTP, incoming_server_location="mail.example.test"
    )
    return profile.model_copy(update=changes)


def test_mailbox_credentials_with_the_address_as_user_name() -> None:
    settings = incoming_connection(_mailbox(), _profile(), BOX)
    assert (settings.username, settings.password) == ("ann@example.test", "mailbox-pass")
    assert (settings.port, settings.tls) == (993, "implicit")


def test_mailbox_credentials_need_the_mailbox_to_allow_them() -> None:
    with pytest.raises(MailAuthenticationError, match="does not allow"):
        incoming_connection(_mailbox(allow_credentials_for_email_processing=False), _profile(), BOX)


def test_profile_credentials() -> None:
    profile = _profile(incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE, incoming_username="svc")
    seal_field(BOX, profile, "incoming_password", "profile-pass")
    settings = incoming_connection(_mailbox(), profile, BOX)
    assert (settings.username, settings.password) == ("svc", "profile-pass")


def test_oauth_modes_are_refused_for_imap_with_a_clear_error() -> None:
    with pytest.raises(PermanentMailError, match="not available"):
        incoming_connection(
            _mailbox(), _profile(incoming_credential_retrieval=CredentialRetrieval.SERVER_TO_SERVER), BOX
        )


def test_a_missing_password_is_an_authentication_problem() -> None:
    with pytest.raises(MailAuthenticationError, match="no username or password"):
        incoming_connection(_mailbox(password=None), _profile(), BOX)


def test_a_password_sealed_with_another_key_is_reported_not_leaked() -> None:
    with pytest.raises(MailAuthenticationError, match="cannot be decrypted") as info:
        incoming_connection(_mailbox(), _profile(), SecretBox(b"\x04" * 32))
    assert "mailbox-pass" not in str(info.value)


def test_a_profile_without_a_server_is_a_configuration_error() -> None:
    with pytest.raises(PermanentMailError, match="no incoming server"):
        incoming_connection(_mailbox(), _profile(incoming_server_location=None), BOX)


@pytest.mark.parametrize(
    ("server", "tls", "port"),
    [
        (ServerType.IMAP_SMTP, TlsMode.STARTTLS, 143),
        (ServerType.POP3_SMTP, TlsMode.IMPLICIT, 995),
        (ServerType.POP3_SMTP, TlsMode.STARTTLS, 110),
    ],
)
def test_default_ports(server: ServerType, tls: TlsMode, port: int) -> None:
    assert incoming_connection(_mailbox(), _profile(server_type=server, incoming_tls=tls), BOX).port == port


def test_the_connection_timeout_comes_from_the_profile() -> None:
    profile = _profile(timeout_mailbox_connection_after_ms=2500)
    assert incoming_connection(_mailbox(), profile, BOX).timeout_seconds == 2.5
