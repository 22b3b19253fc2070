"""What only EWS does: Exchange Server on premises with a service account, and X-AnchorMailbox."""

from __future__ import annotations

import pytest

from sync.health.alerts import CODE_INCOMING_AUTH
from sync.model.options import CredentialRetrieval, ServerType
from tests.ews.server import EwsServer
from tests.integration.exchange.conftest import ALICE, SERVICE_ACCOUNT, SERVICE_PASSWORD, Deployment, message
from tests.integration.exchange.doubles import EwsDouble

pytestmark = pytest.mark.integration


def _ews(deployment: Deployment) -> EwsServer:
    assert isinstance(deployment.server, EwsDouble)
    return deployment.server.server


def test_every_request_names_the_mailbox_in_x_anchor_mailbox(ews_deployment: Deployment) -> None:
    ews_deployment.user_mailbox(ALICE)
    ews_deployment.server.deliver(ALICE, message(ALICE)[0])

    ews_deployment.run()

    calls = _ews(ews_deployment).calls.log
    assert calls and all(c.anchor_mailbox == ALICE for c in calls)


def test_an_on_premises_service_account_impersonates_the_mailbox(ews_deployment: Deployment) -> None:
    profile = ews_deployment.exchange_profile(
        server_type=ServerType.EXCHANGE_SERVER,
        incoming_server_location=ews_deployment.server.url,
        incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        incoming_username=SERVICE_ACCOUNT,
        incoming_use_impersonation=True,
        password=SERVICE_PASSWORD,
    )
    ews_deployment.user_mailbox(ALICE, profile=profile)
    raw, message_id = message(ALICE)
    ews_deployment.server.deliver(ALICE, raw)

    ews_deployment.run()

    assert len(ews_deployment.emails(message_id)) == 1
    assert {c.mailbox for c in _ews(ews_deployment).calls.log} == {ALICE}  # the service account acted as Alice


def test_a_wrong_service_account_password_disables_the_mailbox(ews_deployment: Deployment) -> None:
    profile = ews_deployment.exchange_profile(
        server_type=ServerType.EXCHANGE_SERVER,
        incoming_server_location=ews_deployment.server.url,
        incoming_credential_retrieval=CredentialRetrieval.EMAIL_SERVER_PROFILE,
        incoming_username=SERVICE_ACCOUNT,
        incoming_use_impersonation=True,
        password="wrong",
    )
    mailbox = ews_deployment.user_mailbox(ALICE, profile=profile)

    ews_deployment.run()

    assert not ews_deployment.store.get_mailbox(mailbox.id).enabled_for_incoming
    codes = [a.code for a in ews_deployment.store.alerts.query("mailbox_id eq @m", {"m": mailbox.id})]
    assert codes == [CODE_INCOMING_AUTH]
