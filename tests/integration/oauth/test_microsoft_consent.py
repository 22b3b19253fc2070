"""Delegated Microsoft 365 consent through the admin API, against the Entra ID stand-in at its tenant paths.

The profile names no endpoints: the consent goes to ``<SYNC_ENTRA_AUTHORITY>/<tenant>/oauth2/v2.0/authorize`` and
the code (with its PKCE verifier, which the stand-in checks) to ``.../token``, as with Entra ID itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from fastapi.testclient import TestClient

from devstack.certs import TestCA
from devstack.entra import CLIENT_ID, CLIENT_SECRET, EntraMock
from sync.api.app import create_app
from sync.auth.consent_store import FIELD
from sync.auth.consent_tokens import ConsentTokens
from sync.auth.secrets import SecretBox, open_field, seal_field
from sync.model import EmailServerProfile
from sync.model.options import CredentialRetrieval, ServerType
from sync.settings import Settings
from sync.store import Store
from tests.integration.api.conftest import ADMIN
from tests.integration.mail.oauth_fixtures import MAIL_TENANT, mail_entra  # noqa: F401 - a fixture
from tests.integration.oauth.conftest import CALLBACK
from tests.integration.oauth.test_consent import new_mailbox, sign_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def microsoft_admin(
    oauth_settings: Settings,
    isolated_store: Store,
    mail_entra: EntraMock,  # noqa: F811 - a fixture
) -> Iterator[TestClient]:
    settings = oauth_settings.model_copy(update={"entra_authority": mail_entra.authority})
    with TestClient(create_app(settings, lambda: isolated_store), headers=ADMIN) as client:
        yield client


def test_a_delegated_microsoft_consent_uses_entras_tenant_paths_and_its_tokens(
    microsoft_admin: TestClient,
    isolated_store: Store,
    box: SecretBox,
    session: requests.Session,
    mail_entra: EntraMock,  # noqa: F811 - a fixture
    test_ca: TestCA,
) -> None:
    profile = EmailServerProfile(
        name="Microsoft 365, delegated",
        server_type=ServerType.IMAP_SMTP,
        incoming_server_location="outlook.office365.com",
        outgoing_server_location="smtp.office365.com",
        incoming_credential_retrieval=CredentialRetrieval.AZURE_AD_OAUTH,
        exchange_online_tenant_id=MAIL_TENANT,
        oauth_client_id=CLIENT_ID,
    )
    seal_field(box, profile, "oauth_client_secret", CLIENT_SECRET)
    profile = isolated_store.profiles.insert(profile)
    mailbox_id, _ = new_mailbox(microsoft_admin, profile)

    started = microsoft_admin.post(f"/api/mailboxes/{mailbox_id}/oauth-consent")
    url = urlsplit(started.json()["authorize_url"])
    scopes = parse_qs(url.query)["scope"][0].split()
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{mail_entra.authority}/{MAIL_TENANT}/oauth2/v2.0/authorize"
    assert "offline_access" in scopes and "https://outlook.office.com/IMAP.AccessAsUser.All" in scopes
    done = microsoft_admin.get(sign_in(started.json()["authorize_url"], test_ca))
    assert done.status_code == 200, done.text

    stored = isolated_store.get_mailbox(mailbox_id)
    assert stored.oauth_refresh_token_endpoint == f"{mail_entra.authority}/{MAIL_TENANT}/oauth2/v2.0/token"
    first_refresh = open_field(box, stored, FIELD)
    source = ConsentTokens(isolated_store, box, session, microsoft_authority=mail_entra.authority)
    token = source.token(stored, isolated_store.get_profile(profile.id))

    assert jwt.decode(token, options={"verify_signature": False})["iss"] == mail_entra.authority
    assert open_field(box, isolated_store.get_mailbox(mailbox_id), FIELD) != first_refresh  # Entra rotates
    assert CALLBACK in started.json()["redirect_uri"]
