"""An incoming cycle of an OAuth mailbox through the deployment's own services (R-PROV-8): the worker that
``sync/services.py`` builds logs in to Dovecot with app-only tokens and tracks the mail; a token the server
refuses for its audience disables incoming with the credentials alert, in the server's words, without the token.
"""

from __future__ import annotations

import logging
import uuid
from email.message import EmailMessage

import pytest

from devstack import Dovecot, SmtpServer, TestCA
from devstack.entra import EntraMock
from sync.health.alerts import CODE_INCOMING_AUTH
from sync.mailboxes.provisioning import Provisioning
from sync.model import Mailbox, SystemUser
from sync.model.options import EmailAddressApproval, FilteringMethod, ServerType
from sync.scheduling.scheduler import Scheduler, schedule_now
from sync.services import Services
from sync.settings import Settings
from sync.store import Store
from tests.integration.mail.oauth_fixtures import (  # noqa: F401 - fixtures
    mail_entra,
    oauth_mail_servers,
    oauth_profile,
)
from tests.stack_fixtures import MAIL_DOMAIN, MAIL_PASSWORD

pytestmark = pytest.mark.integration

JWT_START = "eyJ0"  # how the stand-in's tokens (and Entra's) begin: base64url of '{"t'


@pytest.fixture(scope="module")
def services(
    settings: Settings,
    isolated_store: Store,
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    test_ca: TestCA,
) -> Services:
    own = settings.model_copy(
        update={
            "storage_prefix": isolated_store.account.prefix,
            "entra_authority": mail_entra.authority,
            "extra_ca_file": str(test_ca.ca_cert),
        }
    )
    return Services(own, isolated_store)


def _mailbox(services: Services, servers: tuple[Dovecot, SmtpServer], audience: str | None = None) -> Mailbox:
    dovecot, smtp = servers
    store = services.store
    profile = store.profiles.insert(
        oauth_profile(services.secret_box, dovecot, smtp, server_type=ServerType.IMAP_SMTP, aad_resource_id=audience)
    )
    address = f"o-{uuid.uuid4().hex[:10]}@{MAIL_DOMAIN}"
    dovecot.add_user(address, MAIL_PASSWORD)  # the account exists; the app logs in to it with a token
    _, mailbox = Provisioning(store).create_user(
        SystemUser(
            full_name=f"User {address}",
            internal_email_address=address,
            incoming_filtering_method=FilteringMethod.ALL_EMAIL,
        )
    )
    mailbox = store.get_mailbox(mailbox.id)
    mailbox.email_server_profile_id = profile.id
    mailbox.approval = EmailAddressApproval.APPROVED
    mailbox.enabled_for_incoming = True
    store.mailboxes.update(mailbox)
    return schedule_now(store, mailbox.id)


def _cycle(services: Services, mailbox: Mailbox) -> str:
    store = services.store
    fresh = store.get_mailbox(mailbox.id)
    profile = store.get_profile(fresh.email_server_profile_id or "")
    item = Scheduler(store, services.settings, lambda item: None).claim(fresh, profile)
    assert item is not None
    return services.worker.run(item).status


def test_an_oauth_mailbox_is_read_by_the_deployments_worker(
    services: Services,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
) -> None:
    mailbox = _mailbox(services, oauth_mail_servers)
    message = EmailMessage()
    message["From"] = "customer@fabrikam.test"
    message["To"] = mailbox.email_address or ""
    message["Subject"] = "read with an app-only token"
    message["Message-ID"] = message_id = f"<{uuid.uuid4().hex}@fabrikam.test>"
    message.set_content("hello\n")
    oauth_mail_servers[0].deliver(mailbox.email_address or "", message.as_bytes())

    assert _cycle(services, mailbox) == "processed"
    tracked = list(services.store.emails.query("message_id eq @m", {"m": message_id}))
    assert len(tracked) == 1


def test_a_token_for_another_audience_disables_incoming_with_the_credentials_alert(
    services: Services,
    oauth_mail_servers: tuple[Dovecot, SmtpServer],  # noqa: F811 - a fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = _mailbox(services, oauth_mail_servers, audience="https://graph.microsoft.com")

    assert _cycle(services, mailbox) in ("failed", "disabled")

    store = services.store
    assert not store.get_mailbox(mailbox.id).enabled_for_incoming
    (alert,) = list(store.alerts.query("mailbox_id eq @m", {"m": mailbox.id}))
    assert alert.code == CODE_INCOMING_AUTH and alert.code_name == "OAuthTokenRejected"
    assert "[AUTHENTICATIONFAILED] Authentication failed." in f"{alert.text} {alert.error_details}"
    assert JWT_START not in f"{alert.text} {alert.error_details}" and JWT_START not in caplog.text
